//! Where each stream's objects come from: the list that backfills it, and the objects in
//! the events feed that change it.

/// How a stream is backfilled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// A top-level list. `created` says whether it takes `created[lte]` (to resume when
    /// the cursor object is gone).
    Top {
        path: &'static str,
        params: &'static [(&'static str, &'static str)],
        created: bool,
    },
    /// Objects nested in a parent's list (`field` of each parent, paged further at
    /// `more` with the parent's id when the parent holds only the first ones).
    Children {
        parent: &'static str,
        params: &'static [(&'static str, &'static str)],
        field: &'static str,
        more: &'static str,
    },
    /// Listed per customer (`/v1/customers/{id}/payment_methods`).
    PerCustomer { path: &'static str },
}

/// How a stream follows changes after its backfill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Following {
    /// Events whose `data.object.object` is this.
    Events { object: &'static str },
    /// Children of the parent object in events (`items` of subscriptions, `lines` of
    /// invoices).
    ChildEvents { object: &'static str },
    /// No events exist (balance transactions): the list is read forward from its newest.
    ListForward,
}

#[derive(Clone, Copy, Debug)]
pub struct StreamDef {
    pub name: &'static str,
    pub listing: Listing,
    pub following: Following,
}

impl StreamDef {
    /// The list a backfill pages through: the stream's own, or its parents'.
    pub fn list_path(&self) -> &'static str {
        match self.listing {
            Listing::Top { path, .. } => path,
            Listing::Children { parent, .. } => parent,
            Listing::PerCustomer { .. } => "/v1/customers",
        }
    }

    /// Where each listed object's own objects are read further, if they are.
    pub fn child_path(&self) -> Option<&'static str> {
        match self.listing {
            Listing::Top { .. } => None,
            Listing::Children { more, .. } => Some(more),
            Listing::PerCustomer { path } => Some(path),
        }
    }
}

const fn top(name: &'static str, path: &'static str, object: &'static str) -> StreamDef {
    StreamDef {
        name,
        listing: Listing::Top {
            path,
            params: &[],
            created: true,
        },
        following: Following::Events { object },
    }
}

/// Every stream, in the order they are set up.
pub const STREAMS: &[StreamDef] = &[
    top("customer", "/v1/customers", "customer"),
    top("product", "/v1/products", "product"),
    top("price", "/v1/prices", "price"),
    top("plan", "/v1/plans", "plan"),
    top("coupon", "/v1/coupons", "coupon"),
    StreamDef {
        name: "subscription",
        // Without `status=all`, canceled subscriptions are silently left out.
        listing: Listing::Top {
            path: "/v1/subscriptions",
            params: &[("status", "all")],
            created: true,
        },
        following: Following::Events {
            object: "subscription",
        },
    },
    StreamDef {
        name: "subscription_item",
        listing: Listing::Children {
            parent: "/v1/subscriptions",
            params: &[("status", "all")],
            field: "items",
            more: "/v1/subscription_items?subscription={id}",
        },
        following: Following::ChildEvents {
            object: "subscription",
        },
    },
    top("invoice", "/v1/invoices", "invoice"),
    StreamDef {
        name: "invoice_line_item",
        listing: Listing::Children {
            parent: "/v1/invoices",
            params: &[],
            field: "lines",
            more: "/v1/invoices/{id}/lines",
        },
        following: Following::ChildEvents { object: "invoice" },
    },
    top("invoiceitem", "/v1/invoiceitems", "invoiceitem"),
    top("charge", "/v1/charges", "charge"),
    top("refund", "/v1/refunds", "refund"),
    top("dispute", "/v1/disputes", "dispute"),
    top("payment_intent", "/v1/payment_intents", "payment_intent"),
    top("setup_intent", "/v1/setup_intents", "setup_intent"),
    StreamDef {
        name: "payment_method",
        listing: Listing::PerCustomer {
            path: "/v1/customers/{id}/payment_methods",
        },
        following: Following::Events {
            object: "payment_method",
        },
    },
    StreamDef {
        name: "balance_transaction",
        listing: Listing::Top {
            path: "/v1/balance_transactions",
            params: &[],
            created: true,
        },
        following: Following::ListForward,
    },
    top("payout", "/v1/payouts", "payout"),
    StreamDef {
        name: "credit_note",
        listing: Listing::Top {
            path: "/v1/credit_notes",
            params: &[],
            created: false,
        },
        following: Following::Events {
            object: "credit_note",
        },
    },
    top("tax_rate", "/v1/tax_rates", "tax_rate"),
    StreamDef {
        name: "checkout_session",
        listing: Listing::Top {
            path: "/v1/checkout/sessions",
            params: &[],
            created: false,
        },
        following: Following::Events {
            object: "checkout.session",
        },
    },
];

pub fn find(name: &str) -> Option<&'static StreamDef> {
    STREAMS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_a_schema_and_one_definition() {
        let mut names: Vec<_> = STREAMS.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), 21);
        for name in &names {
            assert!(super::super::schema::Schema::of(name).is_some(), "{name}");
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 21);
    }
}
