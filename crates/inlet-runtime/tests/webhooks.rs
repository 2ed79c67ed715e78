//! The webhook server, driven as a library over real HTTP: a delivery reaches the sync's
//! source only through its registered verifier, at `/webhooks/{source}/{sync}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use inlet_connectors::registry;
use inlet_core::{BatchStream, Checkpoint, Discovery, Source, StreamSpec};
use inlet_postgres::Secret;
use inlet_runtime::server::{serve, Hook};

const SECRET: &str = "whsec_test_secret";

/// Counts the nudges a verified webhook gives; reads nothing.
#[derive(Default)]
struct Nudged(AtomicUsize);

impl Source for Nudged {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn read<'a>(&'a self, _: &'a StreamSpec, _: Option<&'a Checkpoint>) -> BatchStream<'a> {
        Box::pin(futures_util::stream::empty())
    }

    fn nudge(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn stripe_signature(body: &[u8], secret: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = ring::hmac::sign(&key, &signed);
    format!("t={t},v1={}", data_encoding::HEXLOWER.encode(tag.as_ref()))
}

#[tokio::test]
async fn only_a_delivery_signed_for_the_syncs_source_reaches_it() {
    let stripe = registry::find("stripe").expect("stripe is registered");
    let source = Arc::new(Nudged::default());
    let mut hooks = HashMap::new();
    hooks.insert(
        "billing".to_string(),
        Hook {
            connector: stripe,
            source: source.clone(),
            secret: Some(Secret::new(SECRET.to_string())),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        std::sync::Arc::new(std::sync::RwLock::new(hooks)),
        Default::default(),
        Default::default(),
        inlet_runtime::paths::Paths::resolve(Some(std::path::Path::new("/nonexistent/inlet.toml"))),
        None,
        async {
            let _ = stop_rx.await;
        },
    ));
    let http = reqwest::Client::new();
    let body = br#"{"id":"evt_1","type":"customer.updated"}"#;
    let post = |path: &str, signature: Option<String>| {
        let mut request = http
            .post(format!("http://{addr}{path}"))
            .body(body.to_vec());
        if let Some(s) = signature {
            request = request.header("Stripe-Signature", s);
        }
        async move { request.send().await.expect("request").status().as_u16() }
    };

    let good = Some(stripe_signature(body, SECRET));
    assert_eq!(post("/webhooks/stripe/billing", good.clone()).await, 200);
    assert_eq!(
        source.0.load(Ordering::SeqCst),
        1,
        "the verified delivery nudged the source"
    );

    let forged = Some(stripe_signature(body, "whsec_someone_else"));
    assert_eq!(post("/webhooks/stripe/billing", forged).await, 400);
    assert_eq!(post("/webhooks/stripe/billing", None).await, 400);
    // The sync exists, but not as a sync of that source; nor does another sync.
    assert_eq!(post("/webhooks/hubspot/billing", good.clone()).await, 404);
    assert_eq!(post("/webhooks/stripe/other", good).await, 404);
    assert_eq!(
        source.0.load(Ordering::SeqCst),
        1,
        "nothing unverified reached the source"
    );

    let _ = stop_tx.send(());
    server.await.expect("the server stops");
}
