"""Drives the fake Stripe with Stripe's official Python library.

Run by crates/inlet-fakes/tests/python_conformance.rs, which starts the fake, seeds it and
writes the truth (what a full sync must see) to the file named by FAKE_TRUTH. Every check
that fails is reported; the script exits non-zero if any did.

Environment: FAKE_URL, FAKE_KEY, FAKE_RESTRICTED_KEY (reads customers only),
FAKE_WEBHOOK_SECRET, FAKE_TRUTH.
"""

import base64
import http.server
import json
import os
import queue
import threading
import traceback
import urllib.request

import stripe

URL = os.environ["FAKE_URL"]
KEY = os.environ["FAKE_KEY"]
RESTRICTED = os.environ["FAKE_RESTRICTED_KEY"]
SECRET = os.environ["FAKE_WEBHOOK_SECRET"]
with open(os.environ["FAKE_TRUTH"], encoding="utf-8") as f:
    TRUTH = json.load(f)

stripe.api_key = KEY
stripe.api_base = URL
# Faults are tested from Rust; here a failure must surface at once.
stripe.max_network_retries = 0

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


@check
def list_first_page_is_newest_first():
    page = stripe.Customer.list(limit=7)
    expect(page.object == "list" and page.url == "/v1/customers", f"list shape: {page.object} {page.url}")
    expect([c.id for c in page.data] == TRUTH["customers"][:7], "first page differs from the truth's first 7")
    expect(page.has_more, "has_more should be true on the first page")


@check
def auto_paging_yields_exactly_the_truth():
    ids = [c.id for c in stripe.Customer.list(limit=13).auto_paging_iter()]
    expect(len(ids) == len(TRUTH["customers"]), f"{len(ids)} customers paged, truth has {len(TRUTH['customers'])}")
    expect(ids == TRUTH["customers"], "auto-paged customer ids differ from the truth (order or content)")


@check
def subscriptions_hide_canceled_unless_status_all():
    every = [s.id for s in stripe.Subscription.list(limit=100, status="all").auto_paging_iter()]
    expect(every == TRUTH["subscriptions"], "status=all differs from the truth")
    default = list(stripe.Subscription.list(limit=100).auto_paging_iter())
    expect(all(s.status != "canceled" for s in default), "default list returned a canceled subscription")
    expect(len(default) == TRUTH["subscriptions_not_canceled"], f"default list has {len(default)}")


@check
def backwards_paging_with_ending_before():
    pivot = TRUTH["customers"][20]
    page = stripe.Customer.list(limit=5, ending_before=pivot)
    expect([c.id for c in page.data] == TRUTH["customers"][15:20], "ending_before page differs")
    back = [c.id for c in stripe.Customer.list(limit=4, ending_before=pivot).auto_paging_iter()]
    expect(back == list(reversed(TRUTH["customers"][:20])), "auto-paging backwards differs")


@check
def retrieve_and_expand():
    customer = stripe.Customer.retrieve(TRUTH["customers"][3])
    expect(customer.email == TRUTH["customer_emails"][3], "retrieved customer has another email")
    expect("subscriptions" not in customer, "includable `subscriptions` present without expand")
    expanded = stripe.Customer.retrieve(TRUTH["customers"][3], expand=["subscriptions"])
    expect(expanded.subscriptions.object == "list", "expand=subscriptions did not include the list")
    subs = stripe.Subscription.list(limit=3, status="all", expand=["data.customer"])
    for sub in subs.data:
        expect(isinstance(sub.customer, stripe.Customer), f"data.customer not expanded: {type(sub.customer)}")
    charge = stripe.Charge.list(limit=1, expand=["data.customer"]).data[0]
    expect(charge.customer is None or charge.customer.object == "customer", "charge customer not expanded")
    invoice = stripe.Invoice.retrieve(TRUTH["big_invoice"], expand=["customer"])
    expect(invoice.customer.object == "customer", "retrieve expand=customer")


@check
def invoice_lines_page_through_the_nested_list():
    invoice = stripe.Invoice.retrieve(TRUTH["big_invoice"])
    lines = invoice.lines
    expect(len(lines.data) == 10 and lines.has_more, f"inline lines: {len(lines.data)}, has_more={lines.has_more}")
    expect(lines.url == f"/v1/invoices/{invoice.id}/lines", f"lines url {lines.url}")
    paged = [line.id for line in lines.auto_paging_iter()]
    expect(paged == TRUTH["big_invoice_lines"], "nested auto-paging of lines differs from the truth")
    listed = [line.id for line in stripe.Invoice.list_lines(invoice.id, limit=4).auto_paging_iter()]
    expect(listed == TRUTH["big_invoice_lines"], "list_lines differs from the truth")


@check
def subscription_items_page_through_their_url():
    sub = stripe.Subscription.retrieve(TRUTH["subscriptions"][0])
    items = sub["items"]
    expect(items.url == f"/v1/subscription_items?subscription={sub.id}", f"items url {items.url}")
    paged = [item.id for item in items.auto_paging_iter()]
    listed = [item.id for item in stripe.SubscriptionItem.list(subscription=sub.id).auto_paging_iter()]
    expect(paged == listed and paged, "items via the nested url differ from /v1/subscription_items")


@check
def create_update_delete_customer_with_events():
    created = stripe.Customer.create(email="py@example.com", name="Py Thon", metadata={"a": "1"})
    expect(created.id.startswith("cus_") and created.email == "py@example.com", "create")
    updated = stripe.Customer.modify(created.id, metadata={"b": "2"}, name="Py Updated")
    expect(updated.metadata.to_dict() == {"a": "1", "b": "2"}, f"metadata merge: {updated.metadata}")
    deleted = stripe.Customer.delete(created.id)
    expect(deleted.deleted is True and deleted.id == created.id, "delete stub")
    again = stripe.Customer.retrieve(created.id)
    expect(getattr(again, "deleted", False) is True, "retrieving a deleted customer gives its stub")
    events = stripe.Event.list(type="customer.*", limit=3).data
    expect([e.type for e in events] == ["customer.deleted", "customer.updated", "customer.created"], [e.type for e in events])
    expect(events[0].data.object.email == "py@example.com", "customer.deleted carries the full object")
    prev = events[1].data.previous_attributes
    expect(prev.name == "Py Thon" and prev.metadata.to_dict() == {"a": "1"}, f"previous_attributes {prev}")
    ids = [c.id for c in stripe.Customer.list(limit=100).auto_paging_iter()]
    expect(created.id not in ids, "deleted customer still listed")


@check
def cancel_subscription_and_detach_payment_method():
    sub_id = next(s for s in TRUTH["subscriptions_active"])
    canceled = stripe.Subscription.cancel(sub_id)
    expect(canceled.status == "canceled", f"cancel gave {canceled.status}")
    listed = [s.id for s in stripe.Subscription.list(limit=100, status="canceled").auto_paging_iter()]
    expect(sub_id in listed, "canceled subscription not listed with status=canceled")
    pm = TRUTH["payment_method"]
    owner = stripe.PaymentMethod.retrieve(pm).customer
    detached = stripe.PaymentMethod.detach(pm)
    expect(detached.customer is None, "detach kept the customer")
    remaining = [p.id for p in stripe.Customer.list_payment_methods(owner).auto_paging_iter()]
    expect(pm not in remaining, "detached payment method still in the customer's list")


@check
def errors_map_to_the_library_classes():
    try:
        stripe.Customer.list(limit=1, api_key="sk_test_notavalidkey1234")
        raise AssertionError("a bad key was accepted")
    except stripe.AuthenticationError as e:
        expect(e.http_status == 401 and "sk_test_****1234" in e.user_message, e.user_message)
    try:
        stripe.Charge.list(limit=1, api_key=RESTRICTED)
        raise AssertionError("a restricted key read charges")
    except stripe.PermissionError as e:
        expect(e.http_status == 403 and "rak_charge_read" in e.user_message, e.user_message)
    expect(len(stripe.Customer.list(limit=2, api_key=RESTRICTED).data) == 2, "restricted key cannot read customers")
    try:
        stripe.Customer.list(starting_after="cus_doesnotexist")
        raise AssertionError("an unknown cursor was accepted")
    except stripe.InvalidRequestError as e:
        expect(e.code == "resource_missing" and e.param == "starting_after", f"{e.code} {e.param}")
    try:
        stripe.Customer.list(limit=101)
        raise AssertionError("limit=101 was accepted")
    except stripe.InvalidRequestError as e:
        expect(e.param == "limit", e.param)


def control(path, body):
    request = urllib.request.Request(
        f"{URL}/_fake/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()


@check
def an_endpoint_past_its_own_limit_raises_rate_limit_error_while_others_answer():
    control("faults", {"endpoint_rate_limit": 2})
    try:
        refused = None
        for _ in range(4):
            try:
                stripe.Customer.list(limit=1)
            except stripe.RateLimitError as e:
                refused = e
                break
        expect(refused is not None and refused.http_status == 429, "four calls in a row at 2/s all answered")
        expect(len(stripe.Product.list(limit=1).data) == 1, "another endpoint was refused too")
    finally:
        control("faults", {"endpoint_rate_limit": None})
    expect(len(stripe.Customer.list(limit=1).data) == 1, "the limit did not lift")


class Receiver(http.server.BaseHTTPRequestHandler):
    deliveries = queue.Queue()

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.deliveries.put((body.decode("utf-8"), self.headers.get("Stripe-Signature")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@check
def webhooks_are_signed_for_construct_event():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/hook"
    control("webhook_endpoints", {"url": endpoint})
    created = stripe.Customer.create(email="hook@example.com")
    payload, signature = Receiver.deliveries.get(timeout=20)
    event = stripe.Webhook.construct_event(payload, signature, SECRET)
    expect(event.type == "customer.created", event.type)
    expect(event.data.object.id == created.id, "delivered event is about another object")
    try:
        stripe.Webhook.construct_event(payload.replace("hook@", "evil@"), signature, SECRET)
        raise AssertionError("a tampered payload verified")
    except stripe.SignatureVerificationError:
        pass
    server.shutdown()


def main():
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok   {fn.__name__}")
        except Exception:  # noqa: BLE001 (report every failing check, then fail)
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
