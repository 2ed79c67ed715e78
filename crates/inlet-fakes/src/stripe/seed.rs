//! A realistic account's history: a small catalog, then per customer payment methods,
//! subscriptions of every status with their invoices and payments, one-off invoices,
//! refunds, disputes, credit notes, checkout sessions; payouts across the year.
//!
//! Seeded objects are stored compactly and indexed once at the end, which is what makes
//! `seed(100_000)` take seconds. Seeding emits no events: it is history.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::Value;

use super::objects::{self, Facts, PRODUCTS};
use super::store::{Body, Link, Seeded, Store, NONE};
use super::stream::Stream;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;
/// How long before the end of its seeded history the account was opened: before any object.
pub(crate) const ACCOUNT_AGE: i64 = YEAR + 90 * DAY;

/// Subscription statuses with their weights (per 100).
const SUBSCRIPTION_STATUSES: &[(&str, u32)] = &[
    ("active", 55),
    ("trialing", 8),
    ("past_due", 7),
    ("canceled", 15),
    ("unpaid", 3),
    ("incomplete", 4),
    ("incomplete_expired", 4),
    ("paused", 4),
];

/// A price the seeder can bill: (slot, interval or `one_time`, unit amount, product index).
#[derive(Clone, Copy, Debug)]
struct Billable {
    slot: u32,
    interval: &'static str,
    amount: i64,
    product: usize,
}

pub(crate) fn seed(store: &mut Store, seed: u64, customers: usize) {
    let existing = store.table(Stream::Customer).slots.len() as u64;
    let end = store.history_end;
    let mut s = Seeder {
        rng: Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(existing.wrapping_mul(0x5eed))),
        store,
        end,
    };
    let catalog = s.catalog();
    for _ in 0..customers {
        s.customer(&catalog);
    }
    s.payouts(customers / 40 + 12);
    s.store.build_indexes();
}

struct Seeder<'a> {
    store: &'a mut Store,
    rng: Xoshiro256PlusPlus,
    end: i64,
}

impl Seeder<'_> {
    fn add(&mut self, stream: Stream, created: i64, spec: Seeded) -> u32 {
        let created = created.min(self.end);
        let id = self.store.new_id(stream);
        let key = self.store.next_key(created);
        let parent = match stream {
            Stream::SubscriptionItem => spec.subscription,
            Stream::InvoiceLineItem => spec.invoice,
            Stream::Refund => spec.charge,
            Stream::PaymentMethod | Stream::Subscription => spec.customer,
            _ => NONE,
        };
        self.store
            .table_mut(stream)
            .push(id, key, parent, Body::Seeded(spec), false)
    }

    fn spec(&mut self, status: &'static str) -> Seeded {
        Seeded::new(self.rng.next_u64(), status)
    }

    fn pick_weighted(&mut self, table: &[(&'static str, u32)]) -> &'static str {
        let total: u32 = table.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for &(item, weight) in table {
            if roll < weight {
                return item;
            }
            roll -= weight;
        }
        table[0].0
    }

    fn full(
        &mut self,
        stream: Stream,
        created: i64,
        status: &str,
        amount: i64,
        product: Option<&str>,
    ) -> (u32, String) {
        let id = self.store.new_id(stream);
        let facts = Facts {
            id: &id,
            created,
            now: self.end,
            salt: self.rng.next_u64(),
            status,
            amount,
            quantity: 1,
            product,
            ..Facts::default()
        };
        let doc = objects::build(stream, &facts);
        let key = self.store.next_key(created);
        let slot = self.store.table_mut(stream).push(
            id.clone(),
            key,
            NONE,
            Body::Full(Box::new(doc)),
            false,
        );
        (slot, id.to_string())
    }

    /// Products, prices, legacy plans, coupons and tax rates, made once per account.
    fn catalog(&mut self) -> Vec<Billable> {
        let prices = self.store.table(Stream::Price);
        if !prices.slots.is_empty() {
            return existing_billables(self.store);
        }
        let start = self.end - YEAR - 60 * DAY;
        // (product index, interval, unit amount)
        let price_list: &[(usize, &str, i64)] = &[
            (0, "month", 1900),
            (0, "year", 19_000),
            (1, "month", 4900),
            (1, "year", 49_000),
            (2, "month", 19_900),
            (2, "year", 199_000),
            (3, "month", 1000),
            (4, "month", 500),
            (5, "one_time", 49_900),
            (6, "month", 9900),
            (7, "month", 800),
        ];
        let mut billables = Vec::new();
        for (index, _) in PRODUCTS.iter().enumerate() {
            let created = start + index as i64 * DAY + self.rng.random_range(0..HOUR);
            let product_id = self.store.new_id(Stream::Product);
            let mut first_price = None;
            for &(product, interval, amount) in price_list.iter().filter(|p| p.0 == index) {
                let (slot, id) = self.full(
                    Stream::Price,
                    created + 60,
                    interval,
                    amount,
                    Some(&product_id),
                );
                first_price.get_or_insert(id);
                billables.push(Billable {
                    slot,
                    interval,
                    amount,
                    product,
                });
            }
            let facts = Facts {
                id: &product_id,
                created,
                now: self.end,
                salt: index as u64,
                price: first_price.as_deref(),
                ..Facts::default()
            };
            let doc = objects::build(Stream::Product, &facts);
            let key = self.store.next_key(created);
            self.store.table_mut(Stream::Product).push(
                product_id.clone(),
                key,
                NONE,
                Body::Full(Box::new(doc)),
                false,
            );
            if index < 2 {
                let (_, interval, amount) = price_list[index * 2];
                self.full(
                    Stream::Plan,
                    created + 120,
                    interval,
                    amount,
                    Some(&product_id),
                );
            }
        }
        for i in 0..5 {
            self.full(Stream::Coupon, start + (10 + i) * DAY, "", 0, None);
            self.full(Stream::TaxRate, start + (20 + i) * DAY, "", 0, None);
        }
        // Tax rates pick their country from the salt; make it their index so all five show.
        fix_tax_rate_salts(self.store);
        billables
    }

    fn customer(&mut self, catalog: &[Billable]) {
        let created = self.end - self.rng.random_range(HOUR..YEAR);
        let mut spec = self.spec("ok");
        let customer = self.add(Stream::Customer, created, spec.clone());
        let mut pms = Vec::new();
        let n_pm = match self.rng.random_range(0..100) {
            0..10 => 0,
            10..75 => 1,
            _ => 2,
        };
        for _ in 0..n_pm {
            let at = created + self.rng.random_range(0..2 * HOUR);
            let mut pm = self.spec("");
            pm.customer = customer;
            let slot = self.add(Stream::PaymentMethod, at, pm);
            pms.push((slot, at));
            if self.rng.random_bool(0.5) {
                let mut seti = self.spec("succeeded");
                seti.customer = customer;
                seti.payment_method = slot;
                self.add(Stream::SetupIntent, at, seti);
            }
        }
        let pm = pms.first().map_or(NONE, |p| p.0);
        let mut invoices = 0u32;
        let mut delinquent = false;
        let n_subs = match self.rng.random_range(0..100) {
            0..25 => 0,
            25..85 => 1,
            _ => 2,
        };
        for _ in 0..n_subs {
            let (count, late) = self.subscription(customer, pm, created, catalog);
            invoices += count;
            delinquent |= late;
        }
        if self.rng.random_ratio(15, 100) {
            let lines = if self.rng.random_ratio(15, 100) {
                self.rng.random_range(11..=40)
            } else {
                self.rng.random_range(1..=3)
            };
            let status =
                self.pick_weighted(&[("paid", 70), ("open", 15), ("draft", 10), ("void", 5)]);
            self.one_off_invoice(customer, pm, created, lines, status, invoices + 1, catalog);
            invoices += 1;
        }
        if self.rng.random_ratio(10, 100) {
            let price = catalog[self.rng.random_range(0..catalog.len())];
            let mut ii = self.spec("");
            ii.customer = customer;
            ii.price = price.slot;
            ii.amount = price.amount;
            let at = self.end - self.rng.random_range(0..10 * DAY);
            self.add(Stream::Invoiceitem, at, ii);
        }
        if self.rng.random_ratio(25, 100) {
            for _ in 0..self.rng.random_range(1..=2) {
                let at = created + self.rng.random_range(0..(self.end - created).max(1));
                let amount = self.rng.random_range(5..500) * 100;
                let status = if self.rng.random_ratio(9, 10) {
                    "succeeded"
                } else {
                    "failed"
                };
                self.payment(customer, pm, NONE, at, amount, status);
            }
        }
        if self.rng.random_ratio(15, 100) {
            self.checkout_session(customer, created);
        }
        spec.payment_method = pm;
        spec.quantity = invoices + 1;
        spec.status = if delinquent { "delinquent" } else { "ok" };
        self.store.table_mut(Stream::Customer).slots[customer as usize].body = Body::Seeded(spec);
    }

    /// A subscription with 1–3 items and its first and latest invoices; returns how many
    /// invoices it made and whether the customer is behind on paying.
    fn subscription(
        &mut self,
        customer: Link,
        pm: Link,
        since: i64,
        catalog: &[Billable],
    ) -> (u32, bool) {
        let created = (since + self.rng.random_range(0..30 * DAY)).min(self.end - HOUR);
        let status = self.pick_weighted(SUBSCRIPTION_STATUSES);
        let bases: Vec<Billable> = catalog
            .iter()
            .copied()
            .filter(|b| b.product < 3 && b.interval != "one_time")
            .collect();
        if bases.is_empty() {
            return (0, false);
        }
        let base = bases[self.rng.random_range(0..bases.len())];
        let mut prices = vec![(base, 1u32)];
        if base.interval == "month" {
            let addons: Vec<Billable> = catalog
                .iter()
                .copied()
                .filter(|b| b.product >= 3 && b.interval == "month")
                .collect();
            for _ in 0..self.rng.random_range(0..=2usize).min(addons.len()) {
                let addon = addons[self.rng.random_range(0..addons.len())];
                if prices.iter().all(|(p, _)| p.slot != addon.slot) {
                    let quantity = if addon.product == 3 {
                        self.rng.random_range(1..=20)
                    } else {
                        1
                    };
                    prices.push((addon, quantity));
                }
            }
        }
        let mut spec = self.spec(status);
        spec.customer = customer;
        spec.payment_method = if matches!(status, "incomplete" | "incomplete_expired") {
            NONE
        } else {
            pm
        };
        let sub = self.add(Stream::Subscription, created, spec.clone());
        let mut items = Vec::new();
        for &(price, quantity) in &prices {
            let mut item = self.spec(price.interval);
            item.subscription = sub;
            item.price = price.slot;
            item.quantity = quantity;
            item.amount = price.amount;
            items.push((
                self.add(Stream::SubscriptionItem, created, item),
                price,
                quantity,
            ));
        }
        let interval = if base.interval == "year" {
            YEAR
        } else {
            30 * DAY
        };
        let last_cycle = created + ((self.end - created) / interval) * interval;
        let (first, latest) = match status {
            "trialing" => ("paid", None),
            "incomplete" => ("open", None),
            "incomplete_expired" => ("void", None),
            "past_due" => ("paid", Some("open")),
            "unpaid" => ("paid", Some("uncollectible")),
            _ => ("paid", Some("paid")),
        };
        let total: i64 = if status == "trialing" {
            0
        } else {
            prices.iter().map(|(p, q)| p.amount * i64::from(*q)).sum()
        };
        let mut last =
            self.subscription_invoice(customer, pm, sub, created, first, total, 1, &items);
        let mut count = 1;
        if let Some(latest) = latest.filter(|_| last_cycle > created && status != "canceled") {
            last =
                self.subscription_invoice(customer, pm, sub, last_cycle, latest, total, 2, &items);
            count += 1;
        }
        spec.invoice = last;
        self.store.table_mut(Stream::Subscription).slots[sub as usize].body = Body::Seeded(spec);
        (count, matches!(status, "past_due" | "unpaid"))
    }

    #[allow(clippy::too_many_arguments)]
    fn subscription_invoice(
        &mut self,
        customer: Link,
        pm: Link,
        sub: Link,
        at: i64,
        status: &'static str,
        total: i64,
        number: u32,
        items: &[(u32, Billable, u32)],
    ) -> u32 {
        let mut spec = self.spec(status);
        spec.customer = customer;
        spec.subscription = sub;
        spec.amount = total;
        spec.quantity = number;
        let invoice = self.add(Stream::Invoice, at, spec);
        for &(item, price, quantity) in items {
            let mut line = self.spec(price.interval);
            line.invoice = invoice;
            line.subscription = sub;
            line.aux = item;
            line.price = price.slot;
            line.amount = if total == 0 { 0 } else { price.amount };
            line.quantity = quantity;
            self.add(Stream::InvoiceLineItem, at, line);
        }
        self.settle(customer, pm, invoice, at, total, status);
        invoice
    }

    /// The payment attempt behind an invoice: a charge when paid, a failed one when open.
    fn settle(
        &mut self,
        customer: Link,
        pm: Link,
        invoice: Link,
        at: i64,
        total: i64,
        status: &str,
    ) {
        match status {
            "paid" if total > 0 => {
                self.payment(customer, pm, invoice, at + HOUR, total, "succeeded");
                if self.rng.random_ratio(3, 100) {
                    self.credit_note(customer, invoice, at + 5 * DAY, total);
                }
            }
            "open" | "uncollectible" if total > 0 && pm != NONE => {
                self.payment(customer, pm, invoice, at + HOUR, total, "failed");
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn one_off_invoice(
        &mut self,
        customer: Link,
        pm: Link,
        since: i64,
        lines: u32,
        status: &'static str,
        number: u32,
        catalog: &[Billable],
    ) {
        let at = since + self.rng.random_range(0..(self.end - since).max(1));
        let mut spec = self.spec(status);
        spec.customer = customer;
        spec.quantity = number;
        let invoice = self.add(Stream::Invoice, at, spec.clone());
        let mut total = 0;
        for _ in 0..lines {
            let price = catalog[self.rng.random_range(0..catalog.len())];
            let quantity = self.rng.random_range(1..=3);
            let mut ii = self.spec("");
            ii.customer = customer;
            ii.invoice = invoice;
            ii.price = price.slot;
            ii.amount = price.amount;
            ii.quantity = quantity;
            let item = self.add(Stream::Invoiceitem, at, ii);
            let mut line = self.spec("one_time");
            line.invoice = invoice;
            line.aux = item;
            line.price = price.slot;
            line.amount = price.amount;
            line.quantity = quantity;
            self.add(Stream::InvoiceLineItem, at, line);
            total += price.amount * i64::from(quantity);
        }
        spec.amount = total;
        self.store.table_mut(Stream::Invoice).slots[invoice as usize].body = Body::Seeded(spec);
        self.settle(customer, pm, invoice, at, total, status);
    }

    /// A payment intent with its charge (and balance transaction, refund, dispute).
    fn payment(
        &mut self,
        customer: Link,
        pm: Link,
        invoice: Link,
        at: i64,
        amount: i64,
        status: &'static str,
    ) {
        let at = at.min(self.end);
        let succeeded = status == "succeeded";
        let mut pi = self.spec(if succeeded {
            "succeeded"
        } else {
            "requires_payment_method"
        });
        pi.customer = customer;
        pi.payment_method = pm;
        pi.invoice = invoice;
        pi.amount = amount;
        let pi_slot = self.add(Stream::PaymentIntent, at, pi.clone());
        let mut charge = self.spec(status);
        charge.customer = customer;
        charge.payment_method = pm;
        charge.payment_intent = pi_slot;
        charge.invoice = invoice;
        charge.amount = amount;
        let charge_slot = self.add(Stream::Charge, at, charge.clone());
        pi.charge = charge_slot;
        self.store.table_mut(Stream::PaymentIntent).slots[pi_slot as usize].body = Body::Seeded(pi);
        if succeeded {
            let mut txn = self.spec("charge");
            txn.charge = charge_slot;
            txn.amount = amount;
            charge.txn = self.add(Stream::BalanceTransaction, at, txn);
            if self.rng.random_ratio(6, 100) {
                let refund_amount = if self.rng.random_bool(0.7) {
                    amount
                } else {
                    amount / 2
                };
                let refund_at = (at + self.rng.random_range(HOUR..20 * DAY)).min(self.end);
                let mut refund = self.spec("succeeded");
                refund.charge = charge_slot;
                refund.customer = customer;
                refund.payment_method = pm;
                refund.payment_intent = pi_slot;
                refund.amount = refund_amount;
                let refund_slot = self.add(Stream::Refund, refund_at, refund.clone());
                let mut txn = self.spec("refund");
                txn.aux = refund_slot;
                txn.amount = -refund_amount;
                refund.txn = self.add(Stream::BalanceTransaction, refund_at, txn);
                self.store.table_mut(Stream::Refund).slots[refund_slot as usize].body =
                    Body::Seeded(refund);
                charge.quantity = u32::try_from(refund_amount).unwrap_or(u32::MAX);
            } else if self.rng.random_ratio(2, 100) {
                let status = self.pick_weighted(&[
                    ("needs_response", 30),
                    ("under_review", 25),
                    ("won", 25),
                    ("lost", 20),
                ]);
                let mut dispute = self.spec(status);
                dispute.charge = charge_slot;
                dispute.payment_intent = pi_slot;
                dispute.amount = amount;
                let disputed_at = at + self.rng.random_range(DAY..40 * DAY);
                charge.aux = self.add(Stream::Dispute, disputed_at, dispute);
            }
        }
        self.store.table_mut(Stream::Charge).slots[charge_slot as usize].body =
            Body::Seeded(charge);
    }

    fn credit_note(&mut self, customer: Link, invoice: Link, at: i64, total: i64) {
        let status = if self.rng.random_ratio(1, 10) {
            "void"
        } else {
            "issued"
        };
        let mut note = self.spec(status);
        note.customer = customer;
        note.invoice = invoice;
        note.amount = (total / 2).max(100);
        note.aux = self
            .store
            .table(Stream::InvoiceLineItem)
            .slots
            .len()
            .checked_sub(1)
            .map_or(NONE, |l| l as u32);
        self.add(Stream::CreditNote, at, note);
    }

    fn checkout_session(&mut self, customer: Link, since: i64) {
        let at = since + self.rng.random_range(0..(self.end - since).max(1));
        let status = self.pick_weighted(&[("complete", 60), ("expired", 30), ("open", 10)]);
        let mut session = self.spec(status);
        session.customer = customer;
        session.amount = self.rng.random_range(10..300) * 100;
        if status == "complete" {
            let intents = self.store.table(Stream::PaymentIntent).slots.len();
            if intents > 0 && self.rng.random_bool(0.5) {
                session.payment_intent = (intents - 1) as u32;
            }
        }
        self.add(Stream::CheckoutSession, at, session);
    }

    fn payouts(&mut self, count: usize) {
        for i in 0..count {
            let at = self.end - YEAR
                + (YEAR / count.max(1) as i64) * i as i64
                + self.rng.random_range(0..HOUR);
            let recent = i + 2 >= count;
            let status = if recent {
                "in_transit"
            } else if self.rng.random_ratio(2, 100) {
                "failed"
            } else {
                "paid"
            };
            let amount = self.rng.random_range(500..50_000) * 100;
            let mut payout = self.spec(status);
            payout.amount = amount;
            let slot = self.add(Stream::Payout, at, payout.clone());
            let mut txn = self.spec("payout");
            txn.aux = slot;
            txn.amount = -amount;
            payout.txn = self.add(Stream::BalanceTransaction, at, txn);
            self.store.table_mut(Stream::Payout).slots[slot as usize].body = Body::Seeded(payout);
        }
    }
}

fn fix_tax_rate_salts(store: &mut Store) {
    let table = store.table_mut(Stream::TaxRate);
    for (i, slot) in table.slots.iter_mut().enumerate() {
        if let Body::Full(doc) = &mut slot.body {
            let facts = Facts {
                id: &slot.id,
                created: slot.key.created,
                salt: i as u64,
                ..Facts::default()
            };
            **doc = objects::build(Stream::TaxRate, &facts);
        }
    }
}

/// The billable prices of an account seeded before (a second `seed` call).
fn existing_billables(store: &Store) -> Vec<Billable> {
    let prices = store.table(Stream::Price);
    let products = store.table(Stream::Product);
    let mut out = Vec::new();
    for (&_, &slot) in &prices.order {
        let Body::Full(doc) = &prices.slot(slot).body else {
            continue;
        };
        let interval = match doc
            .get("recurring")
            .and_then(|r| r.get("interval"))
            .and_then(Value::as_str)
        {
            Some("year") => "year",
            Some(_) => "month",
            None => "one_time",
        };
        let product = doc
            .get("product")
            .and_then(Value::as_str)
            .and_then(|p| products.get(p))
            .unwrap_or(0) as usize;
        let amount = doc.get("unit_amount").and_then(Value::as_i64).unwrap_or(0);
        out.push(Billable {
            slot,
            interval,
            amount,
            product: product.min(PRODUCTS.len() - 1),
        });
    }
    if out.is_empty() {
        out.push(Billable {
            slot: NONE,
            interval: "month",
            amount: 1000,
            product: 0,
        });
    }
    out
}
