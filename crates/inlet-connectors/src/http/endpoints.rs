//! Limits an API keeps per endpoint, besides the account's whole budget: Stripe allows 25
//! requests a second to each endpoint by default, within its 100 a second. An endpoint is
//! what the vendor counts as one (for Stripe, a method and a path with its ids left out,
//! so reading every customer's payment methods is one endpoint), named by a function the
//! connector supplies.
//!
//! Each endpoint gets its own [`RateLimiter`] at the same rate, created when first used. A
//! request waits for its endpoint's token before the sync's, so one busy endpoint never
//! holds a token the others could use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::Method;

use super::RateLimiter;

/// Names the endpoint a request counts against, from its method and path (no query).
pub type EndpointName = fn(&Method, &str) -> String;

#[derive(Debug)]
pub struct EndpointLimits {
    rate: f64,
    name: EndpointName,
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
}

impl EndpointLimits {
    /// At most `rate` requests a second to each endpoint `name` tells apart.
    pub fn new(rate: f64, name: EndpointName) -> Self {
        EndpointLimits {
            rate,
            name,
            limiters: Mutex::default(),
        }
    }

    /// The bucket of the endpoint `path_and_query` counts against.
    pub fn limiter(&self, method: &Method, path_and_query: &str) -> Arc<RateLimiter> {
        let path = path_and_query.split('?').next().unwrap_or_default();
        let name = (self.name)(method, path);
        let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        // No burst, as the sync's own bucket (see `StripeSource::new`).
        (limiters.entry(name))
            .or_insert_with(|| Arc::new(RateLimiter::new(self.rate, 1)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;

    fn by_first_segment(_: &Method, path: &str) -> String {
        path.split('/').nth(2).unwrap_or_default().to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn each_endpoint_is_paced_on_its_own_and_the_query_is_not_part_of_it() {
        let limits = EndpointLimits::new(10.0, by_first_segment);
        let customers = limits.limiter(&Method::GET, "/v1/customers?limit=100");
        assert!(Arc::ptr_eq(
            &customers,
            &limits.limiter(&Method::GET, "/v1/customers/cus_1/payment_methods")
        ));
        let invoices = limits.limiter(&Method::GET, "/v1/invoices");
        assert!(!Arc::ptr_eq(&customers, &invoices));

        let start = Instant::now();
        for _ in 0..3 {
            customers.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(200), "10 a second");
        invoices.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(200),
            "another endpoint does not wait for the first one's tokens"
        );
    }
}
