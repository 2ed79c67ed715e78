//! The 21 streams the fake serves: inlet's table names, and for each the API facts the rest
//! of the fake needs (object name, id prefix, list path, event names, parent relation).

use std::fmt;

/// One kind of Stripe object, named as inlet's table for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Customer,
    Product,
    Price,
    Plan,
    Coupon,
    Subscription,
    SubscriptionItem,
    Invoice,
    InvoiceLineItem,
    Invoiceitem,
    Charge,
    Refund,
    Dispute,
    PaymentIntent,
    SetupIntent,
    PaymentMethod,
    BalanceTransaction,
    Payout,
    CreditNote,
    TaxRate,
    CheckoutSession,
}

impl Stream {
    pub const ALL: [Stream; 21] = [
        Stream::Customer,
        Stream::Product,
        Stream::Price,
        Stream::Plan,
        Stream::Coupon,
        Stream::Subscription,
        Stream::SubscriptionItem,
        Stream::Invoice,
        Stream::InvoiceLineItem,
        Stream::Invoiceitem,
        Stream::Charge,
        Stream::Refund,
        Stream::Dispute,
        Stream::PaymentIntent,
        Stream::SetupIntent,
        Stream::PaymentMethod,
        Stream::BalanceTransaction,
        Stream::Payout,
        Stream::CreditNote,
        Stream::TaxRate,
        Stream::CheckoutSession,
    ];

    /// inlet's table name, the `stream` argument of the Rust API.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Customer => "customer",
            Stream::Product => "product",
            Stream::Price => "price",
            Stream::Plan => "plan",
            Stream::Coupon => "coupon",
            Stream::Subscription => "subscription",
            Stream::SubscriptionItem => "subscription_item",
            Stream::Invoice => "invoice",
            Stream::InvoiceLineItem => "invoice_line_item",
            Stream::Invoiceitem => "invoiceitem",
            Stream::Charge => "charge",
            Stream::Refund => "refund",
            Stream::Dispute => "dispute",
            Stream::PaymentIntent => "payment_intent",
            Stream::SetupIntent => "setup_intent",
            Stream::PaymentMethod => "payment_method",
            Stream::BalanceTransaction => "balance_transaction",
            Stream::Payout => "payout",
            Stream::CreditNote => "credit_note",
            Stream::TaxRate => "tax_rate",
            Stream::CheckoutSession => "checkout_session",
        }
    }

    pub fn from_name(name: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The position of this stream in [`Stream::ALL`], for per-stream arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The API's `object` value.
    pub fn object(self) -> &'static str {
        match self {
            Stream::InvoiceLineItem => "line_item",
            Stream::CheckoutSession => "checkout.session",
            other => other.name(),
        }
    }

    /// Id prefix; coupons have none (their ids are user-chosen or random capitals).
    pub fn prefix(self) -> &'static str {
        match self {
            Stream::Customer => "cus_",
            Stream::Product => "prod_",
            Stream::Price => "price_",
            Stream::Plan => "plan_",
            Stream::Coupon => "",
            Stream::Subscription => "sub_",
            Stream::SubscriptionItem => "si_",
            Stream::Invoice => "in_",
            Stream::InvoiceLineItem => "il_",
            Stream::Invoiceitem => "ii_",
            Stream::Charge => "ch_",
            Stream::Refund => "re_",
            Stream::Dispute => "dp_",
            Stream::PaymentIntent => "pi_",
            Stream::SetupIntent => "seti_",
            Stream::PaymentMethod => "pm_",
            Stream::BalanceTransaction => "txn_",
            Stream::Payout => "po_",
            Stream::CreditNote => "cn_",
            Stream::TaxRate => "txr_",
            Stream::CheckoutSession => "cs_test_",
        }
    }

    /// The stream an id belongs to, from its prefix (coupons cannot be recognised this way).
    pub fn from_id(id: &str) -> Option<Stream> {
        Stream::ALL
            .into_iter()
            .filter(|s| !s.prefix().is_empty())
            .find(|s| id.starts_with(s.prefix()))
    }

    /// The collection path under `/v1` (`None` for lines, which live under their invoice).
    pub fn collection(self) -> Option<&'static str> {
        Some(match self {
            Stream::Customer => "customers",
            Stream::Product => "products",
            Stream::Price => "prices",
            Stream::Plan => "plans",
            Stream::Coupon => "coupons",
            Stream::Subscription => "subscriptions",
            Stream::SubscriptionItem => "subscription_items",
            Stream::Invoice => "invoices",
            Stream::InvoiceLineItem => return None,
            Stream::Invoiceitem => "invoiceitems",
            Stream::Charge => "charges",
            Stream::Refund => "refunds",
            Stream::Dispute => "disputes",
            Stream::PaymentIntent => "payment_intents",
            Stream::SetupIntent => "setup_intents",
            Stream::PaymentMethod => "payment_methods",
            Stream::BalanceTransaction => "balance_transactions",
            Stream::Payout => "payouts",
            Stream::CreditNote => "credit_notes",
            Stream::TaxRate => "tax_rates",
            Stream::CheckoutSession => "checkout/sessions",
        })
    }

    pub fn from_collection(path: &str) -> Option<Stream> {
        Stream::ALL
            .into_iter()
            .find(|s| s.collection() == Some(path))
    }

    /// The prefix of this stream's event types (`customer.subscription` for subscriptions).
    /// `None`: changes to it are announced through its parent's events, or not at all.
    pub fn event_prefix(self) -> Option<&'static str> {
        match self {
            Stream::Subscription => Some("customer.subscription"),
            Stream::Dispute => Some("charge.dispute"),
            Stream::CheckoutSession => Some("checkout.session"),
            Stream::SubscriptionItem | Stream::InvoiceLineItem | Stream::BalanceTransaction => None,
            other => Some(other.object()),
        }
    }

    /// A child stream's parent: (parent stream, the child's field holding the parent's id).
    /// The fake keeps a per-parent index of these for nested lists and filtered lists.
    pub fn parent(self) -> Option<(Stream, &'static str)> {
        match self {
            Stream::SubscriptionItem => Some((Stream::Subscription, "subscription")),
            Stream::InvoiceLineItem => Some((Stream::Invoice, "invoice")),
            Stream::Refund => Some((Stream::Charge, "charge")),
            Stream::PaymentMethod => Some((Stream::Customer, "customer")),
            Stream::Subscription => Some((Stream::Customer, "customer")),
            _ => None,
        }
    }

    /// The resource name of this stream's example object in Stripe's published fixtures.
    pub fn fixture_name(self) -> &'static str {
        self.object()
    }

    /// Whether Stripe's restricted keys grant reading this stream through `granted`.
    /// Child streams are read through their parent's endpoints, so either name grants them.
    pub fn readable_with(self, granted: Stream) -> bool {
        granted == self
            || matches!(
                (self, granted),
                (Stream::SubscriptionItem, Stream::Subscription)
                    | (Stream::InvoiceLineItem, Stream::Invoice)
            )
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_prefixes_and_collections_round_trip() {
        for stream in Stream::ALL {
            assert_eq!(Stream::from_name(stream.name()), Some(stream));
            assert_eq!(Stream::ALL[stream.index()], stream);
            if let Some(path) = stream.collection() {
                assert_eq!(Stream::from_collection(path), Some(stream));
            }
            if !stream.prefix().is_empty() {
                let id = format!("{}abc123", stream.prefix());
                assert_eq!(Stream::from_id(&id), Some(stream), "{id}");
            }
        }
    }
}
