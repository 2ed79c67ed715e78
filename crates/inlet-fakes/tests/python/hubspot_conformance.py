"""Runs HubSpot's official Python client against the fake and checks what it sees against
the truth the Rust test wrote (FAKE_TRUTH). Prints one line per check and
'N passed, M failed' at the end; exits non-zero on any failure."""

import datetime
import http.server
import json
import os
import queue
import sys
import threading
import traceback
import urllib.request

from hubspot import Client
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (ApiException, BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest, SimplePublicObjectId,
                                  SimplePublicObjectInputForCreate)
from hubspot.utils.signature import Signature

URL = os.environ["FAKE_URL"]
TOKEN = os.environ["FAKE_TOKEN"]
with open(os.environ["FAKE_TRUTH"], encoding="utf-8") as f:
    TRUTH = json.load(f)

client = Client.create(access_token=TOKEN, host=URL)
CONTACTS = TRUTH["contacts"]
BY_ID = {c["id"]: c for c in CONTACTS}
PROPERTY_TYPES = {p["name"]: p for p in TRUTH["properties"]}

results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok   {name}")
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            results.append((name, traceback.format_exc()))
            print(f"FAIL {name}\n{traceback.format_exc()}")
        return fn
    return wrap


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def ms(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@check("get_all pages every live contact once, in id order, with the asked properties")
def _():
    got = client.crm.contacts.get_all(properties=["email", "firstname", "lifecyclestage"])
    expect([c.id for c in got] == [c["id"] for c in CONTACTS], f"{len(got)} contacts, truth has {len(CONTACTS)}")
    for c in got:
        truth = BY_ID[c.id]["properties"]
        for name in ["email", "firstname", "lifecyclestage"]:
            expect(c.properties.get(name) == truth[name], f"{c.id} {name}: {c.properties.get(name)!r} != {truth[name]!r}")
        expect(set(c.properties) == {"email", "firstname", "lifecyclestage", "createdate", "lastmodifieddate", "hs_object_id"},
               f"unexpected properties {sorted(c.properties)}")
        expect(c.archived is False and c.created_at is not None and c.updated_at is not None, "timestamps")


@check("a list without properties returns the contact defaults")
def _():
    page = client.crm.contacts.basic_api.get_page(limit=5)
    expect(len(page.results) == 5, "limit 5")
    for c in page.results:
        expect(set(c.properties) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"},
               f"defaults were {sorted(c.properties)}")
    expect(page.paging is not None and page.paging.next.after, "a next cursor")
    second = client.crm.contacts.basic_api.get_page(limit=5, after=page.paging.next.after)
    expect(second.results[0].id == CONTACTS[5]["id"], "the cursor continues where the page ended")


@check("get_all with propertiesWithHistory reads every contact with its value history")
def _():
    got = client.crm.contacts.get_all(properties=["email"], properties_with_history=["email"])
    expect(len(got) == len(CONTACTS), f"{len(got)} contacts")
    for c in got:
        history = c.properties_with_history["email"]
        if BY_ID[c.id]["properties"]["email"]:
            expect(history[0].value == c.properties["email"] and history[0].timestamp is not None, f"{c.id} history {history}")
        else:
            expect(history == [], f"{c.id} has no email, yet history {history}")


@check("archived=true lists only archived contacts, with archivedAt")
def _():
    got = client.crm.contacts.get_all(archived=True)
    expect([c.id for c in got] == [c["id"] for c in TRUTH["archived"]], f"archived: {[c.id for c in got]}")
    expect(all(c.archived and c.archived_at for c in got), "archived and archivedAt set")


@check("reading a merged-away id answers with the survivor, which lists it in hs_merged_object_ids")
def _():
    c = client.crm.contacts.basic_api.get_by_id(TRUTH["absorbed"], properties=["hs_merged_object_ids"])
    expect(c.id == TRUTH["survivor"], f"read {TRUTH['absorbed']} gave {c.id}")
    expect(TRUTH["absorbed"] in c.properties["hs_merged_object_ids"].split(";"), c.properties)


@check("an unknown id raises ApiException 404 with HubSpot's error body")
def _():
    try:
        client.crm.contacts.basic_api.get_by_id("999999999")
    except ApiException as e:
        expect(e.status == 404, f"status {e.status}")
        body = json.loads(e.body)
        expect(body["status"] == "error" and body["category"] == "OBJECT_NOT_FOUND" and body["correlationId"], body)
        return
    raise AssertionError("no exception")


@check("search pages a modified-date window sorted by id, like an incremental sync")
def _():
    times = sorted(ms(c["properties"]["lastmodifieddate"]) for c in CONTACTS)
    since = times[len(times) // 3]
    expected = [c["id"] for c in CONTACTS if ms(c["properties"]["lastmodifieddate"]) >= since]
    got, after = [], None
    while True:
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}]}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=["email", "lastmodifieddate"], limit=100, after=after)
        page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
        expect(page.total == len(expected), f"total {page.total} != {len(expected)}")
        got += [c.id for c in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    expect(got == sorted(expected, key=int), f"{len(got)} found, {len(expected)} expected")


@check("search operators IN, BETWEEN, HAS_PROPERTY, NEQ and a descending sort agree with the truth")
def _():
    def run(filters, sort=None):
        request = PublicObjectSearchRequest(filter_groups=[{"filters": filters}], limit=200,
                                            sorts=[sort] if sort else None, properties=["createdate"])
        return client.crm.contacts.search_api.do_search(public_object_search_request=request)

    stages = ["lead", "customer"]
    page = run([{"propertyName": "lifecyclestage", "operator": "IN", "values": stages}])
    want = sum(1 for c in CONTACTS if c["properties"]["lifecyclestage"] in stages)
    expect(page.total == want, f"IN: {page.total} != {want}")
    created = sorted(ms(c["properties"]["createdate"]) for c in CONTACTS)
    low, high = created[50], created[120]
    page = run([{"propertyName": "createdate", "operator": "BETWEEN", "value": str(low), "highValue": str(high)}],
               {"propertyName": "createdate", "direction": "DESCENDING"})
    expect(page.total == 71, f"BETWEEN: {page.total}")
    shown = [ms(c.properties["createdate"]) for c in page.results]
    expect(shown == sorted(shown, reverse=True), "sorted descending")
    page = run([{"propertyName": "phone", "operator": "HAS_PROPERTY"}])
    want = sum(1 for c in CONTACTS if c["properties"]["phone"])
    expect(page.total == want, f"HAS_PROPERTY: {page.total} != {want}")
    page = run([{"propertyName": "lifecyclestage", "operator": "NEQ", "value": "lead"}])
    want = sum(1 for c in CONTACTS if c["properties"]["lifecyclestage"] != "lead")
    expect(page.total == want, f"NEQ: {page.total} != {want}")


@check("a search limit above 200 raises a 400 VALIDATION_ERROR")
def _():
    try:
        client.crm.contacts.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(limit=201))
    except ApiException as e:
        expect(e.status == 400 and json.loads(e.body)["category"] == "VALIDATION_ERROR", e.body)
        return
    raise AssertionError("no exception")


@check("batch read returns the asked properties, and a 207 with errors for a missing id")
def _():
    ids = [c["id"] for c in CONTACTS[:100]]
    live = [i for i in ids if i in BY_ID]
    request = BatchReadInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids],
                                                 properties=["email", "hs_buying_role"], properties_with_history=[])
    page = client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=request)
    expect(page.status == "COMPLETE", page.status)
    expect(sorted(c.id for c in page.results) == sorted(live, key=int), "every id read")
    for c in page.results:
        expect(c.properties["hs_buying_role"] == BY_ID[c.id]["properties"]["hs_buying_role"], "multi-select value")
    request = BatchReadInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[0]), SimplePublicObjectId(id="999999999")],
                                                 properties=["email"], properties_with_history=[])
    page = client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=request)
    expect(page.num_errors == 1 and "999999999" in page.errors[0].context["ids"], str(page.errors))
    expect([c.id for c in page.results] == [ids[0]], "the good id is still read")


@check("properties metadata: every contact property with its type, and options with labels")
def _():
    got = client.crm.properties.core_api.get_all(object_type="contacts").results
    expect(len(got) == len(TRUTH["properties"]), f"{len(got)} properties")
    by_name = {p.name: p for p in got}
    expect({p.type for p in got} >= {"string", "number", "date", "datetime", "bool", "enumeration", "phone_number"},
           f"types {sorted({p.type for p in got})}")
    stage = by_name["lifecyclestage"]
    expect(stage.type == "enumeration" and any(o.value == "customer" and o.label == "Customer" for o in stage.options), "options")
    expect(by_name["hs_buying_role"].field_type == "checkbox", "multi-select checkbox")


@check("associations v4: batch read and per-object pages match the truth")
def _():
    truth = {}
    for row in TRUTH["contact_companies"]:
        truth.setdefault(row["fromId"], {}).setdefault(row["toId"], set()).add(row["typeId"])
    ids = list(truth)[:50]
    request = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in ids])
    page = client.crm.associations.v4.batch_api.get_page(from_object_type="contacts", to_object_type="companies",
                                                          batch_input_public_fetch_associations_batch_request=request)
    seen = {r._from.id: {t.to_object_id: {a.type_id for a in t.association_types} for t in r.to} for r in page.results}
    expect(seen == {i: truth[i] for i in ids}, "batch read differs")
    one = ids[0]
    single = client.crm.associations.v4.basic_api.get_page(object_type="contacts", object_id=one, to_object_type="companies")
    expect({t.to_object_id for t in single.results} == set(truth[one]), "per-object page")
    labels = client.crm.associations.v4.schema.definitions_api.get_all(from_object_type="contacts", to_object_type="companies")
    expect({(l.type_id, l.label) for l in labels.results} >= {(1, "Primary"), (279, None)}, "labels")


@check("owners, deal pipelines with stages, and the custom object's schema and records")
def _():
    owners = client.crm.owners.owners_api.get_page(limit=100).results
    expect(len(owners) >= 5 and all(o.email and o.id for o in owners), "owners")
    pipelines = client.crm.pipelines.pipelines_api.get_all(object_type="deals").results
    expect(any(p.id == "default" and any(s.id == "closedwon" for s in p.stages) for p in pipelines), "deal stages")
    schemas = client.crm.schemas.core_api.get_all().results
    expect([s.name for s in schemas] == ["cars"], f"schemas {[s.name for s in schemas]}")
    cars = []
    after = None
    while True:
        page = client.crm.objects.basic_api.get_page(object_type=schemas[0].object_type_id, limit=100, after=after)
        cars += page.results
        if page.paging is None:
            break
        after = page.paging.next.after
    expect(len(cars) == TRUTH["cars"], f"{len(cars)} cars, truth {TRUTH['cars']}")


@check("a token without a scope gets 403 MISSING_SCOPES naming it")
def _():
    scoped = Client.create(access_token=os.environ["FAKE_SCOPED_TOKEN"], host=URL)
    expect(len(scoped.crm.contacts.basic_api.get_page(limit=1).results) == 1, "contacts readable")
    try:
        scoped.crm.deals.basic_api.get_page(limit=1)
    except Exception as e:  # noqa: BLE001 - the deals module has its own ApiException class
        expect(getattr(e, "status", None) == 403, str(e))
        body = json.loads(e.body)
        expect(body["category"] == "MISSING_SCOPES" and "crm.objects.deals.read" in body["context"]["missingScopes"], body)
        return
    raise AssertionError("no exception")


@check("OAuth: a refresh token buys an access token that reads, a bad secret is refused")
def _():
    tokens = Client.create(host=URL).oauth.tokens_api
    got = tokens.create(grant_type="refresh_token", client_id=os.environ["FAKE_CLIENT_ID"],
                        client_secret=os.environ["FAKE_CLIENT_SECRET"], refresh_token=os.environ["FAKE_REFRESH_TOKEN"])
    expect(got.expires_in > 0 and got.access_token, "a token")
    oauth = Client.create(access_token=got.access_token, host=URL)
    expect(len(oauth.crm.companies.basic_api.get_page(limit=2).results) == 2, "reads with the access token")
    try:
        tokens.create(grant_type="refresh_token", client_id=os.environ["FAKE_CLIENT_ID"],
                      client_secret="wrong", refresh_token=os.environ["FAKE_REFRESH_TOKEN"])
    except Exception as e:  # noqa: BLE001 - oauth has its own ApiException class
        expect(getattr(e, "status", None) == 400 and json.loads(e.body)["status"] == "BAD_CLIENT_SECRET", str(e))
        return
    raise AssertionError("no exception")


class Receiver(http.server.BaseHTTPRequestHandler):
    deliveries = queue.Queue()

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
        Receiver.deliveries.put((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


# Last: it creates a contact, which the checks above compare against the truth.
@check("webhooks are signed so that the client's Signature.is_valid accepts them (v3 and v1)")
def _():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}/webhooks/hubspot"
    request = urllib.request.Request(f"{URL}/_fake/webhooks", data=json.dumps({"target_url": target}).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    created = client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties={"email": "hook@example.com"}))
    body, headers = Receiver.deliveries.get(timeout=20)
    events = json.loads(body)
    expect(events[0]["subscriptionType"] == "contact.creation" and str(events[0]["objectId"]) == created.id, events)
    secret = os.environ["FAKE_CLIENT_SECRET"]
    v3 = dict(signature=headers["x-hubspot-signature-v3"], client_secret=secret, http_uri=target,
              signature_version="v3", timestamp=headers["x-hubspot-request-timestamp"])
    expect(Signature.is_valid(request_body=body, **v3), "v3 signature refused")
    expect(not Signature.is_valid(request_body=body.replace("creation", "deletion"), **v3), "a tampered body verified")
    expect(headers["x-hubspot-signature-version"] == "v1", headers)
    expect(Signature.is_valid(signature=headers["x-hubspot-signature"], client_secret=secret, request_body=body,
                              signature_version="v1"), "v1 signature refused")
    server.shutdown()


failed = [name for name, error in results if error]
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
