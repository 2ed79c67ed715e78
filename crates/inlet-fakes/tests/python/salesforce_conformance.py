"""Runs simple-salesforce (the most used Python client for Salesforce) against the fake and
checks what it sees against the truth the Rust test wrote (FAKE_TRUTH). Prints one line
per check and 'N passed, M failed' at the end; exits non-zero on any failure.

simple-salesforce only speaks https to *.salesforce.com and to the instance the token
names; a requests transport adapter sends those requests to the fake over plain http
(the network, not the client, is what changes)."""

import csv
import datetime
import io
import json
import os
import sys
import traceback
import urllib.parse

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (SalesforceAuthenticationFailed, SalesforceExpiredSession,
                                          SalesforceMalformedRequest, SalesforceRefusedRequest)

FAKE = os.environ["FAKE_URL"]
FAKE_HOST = urllib.parse.urlsplit(FAKE).netloc
CLIENT_ID = os.environ["FAKE_CLIENT_ID"]
CLIENT_SECRET = os.environ["FAKE_CLIENT_SECRET"]
USERNAME = os.environ["FAKE_USERNAME"]
PASSWORD = os.environ["FAKE_PASSWORD"]
with open(os.environ["FAKE_TRUTH"], encoding="utf-8") as f:
    TRUTH = json.load(f)
ACCOUNTS = TRUTH["accounts"]
BY_ID = {a["Id"]: a for a in ACCOUNTS}


class ToFake(requests.adapters.HTTPAdapter):
    """Sends every https request (login hosts, My Domain, the instance) to the fake."""

    def send(self, request, **kwargs):
        parts = urllib.parse.urlsplit(request.url)
        request.url = urllib.parse.urlunsplit(("http", FAKE_HOST, parts.path, parts.query, parts.fragment))
        return super().send(request, **kwargs)


def session():
    s = requests.Session()
    s.mount("https://", ToFake())
    return s


sf = Salesforce(username=USERNAME, password=PASSWORD, consumer_key=CLIENT_ID, consumer_secret=CLIENT_SECRET,
                session=session(), version="62.0")
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


FIELDS = ["Id", "Name", "AnnualRevenue", "NumberOfEmployees", "Description", "BillingCity", "BillingLatitude",
          "Active__c", "Customer_Since__c", "SystemModstamp"]
SOQL = f"SELECT {', '.join(FIELDS)} FROM Account ORDER BY Id"


@check("username-password login names the instance and a session; the client reads Sforce-Limit-Info")
def _():
    expect(sf.session_id.startswith("00D") and "!" in sf.session_id, sf.session_id)
    expect(sf.sf_instance == FAKE_HOST, sf.sf_instance)
    sf.query("SELECT Id FROM Account LIMIT 1")
    usage = sf.api_usage["api-usage"]
    expect(usage.total == TRUTH["daily_limit"] and 0 < usage.used <= usage.total, str(usage))


@check("a session id and instance_url log in as they are")
def _():
    other = Salesforce(instance_url=TRUTH["instance_url"], session_id=TRUTH["session"], session=session())
    expect(other.query("SELECT Id FROM Account LIMIT 3")["totalSize"] == 3, "three accounts")


@check("query: the first page of 200 (Sforce-Query-Options), totalSize of all, a nextRecordsUrl")
def _():
    page = sf.query(SOQL, headers={"Sforce-Query-Options": "batchSize=200"})
    expect(page["totalSize"] == len(ACCOUNTS), f"{page['totalSize']} != {len(ACCOUNTS)}")
    expect(len(page["records"]) == 200 and page["done"] is False, f"{len(page['records'])} records")
    expect(page["nextRecordsUrl"].startswith("/services/data/v62.0/query/"), page["nextRecordsUrl"])
    expect(page["records"][0]["attributes"]["type"] == "Account", "attributes")


@check("query_all follows nextRecordsUrl to every live account, values as the truth has them")
def _():
    got = sf.query_all(SOQL, headers={"Sforce-Query-Options": "batchSize=250"})
    expect(got["done"] and got["totalSize"] == len(ACCOUNTS), f"{got['totalSize']}")
    expect([r["Id"] for r in got["records"]] == [a["Id"] for a in ACCOUNTS], "ids in Id order")
    for record in got["records"]:
        for field in FIELDS:
            expect(record[field] == BY_ID[record["Id"]][field], f"{record['Id']} {field}: {record[field]!r}")


@check("query_all including deleted finds the Recycle Bin: deleted and merged-away accounts")
def _():
    got = sf.query_all("SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE IsDeleted = true ORDER BY Id",
                       include_deleted=True)
    ids = [r["Id"] for r in got["records"]]
    expect(ids == sorted(TRUTH["deleted"]), f"{ids} != {TRUTH['deleted']}")
    loser = next(r for r in got["records"] if r["Id"] == TRUTH["merged_loser"])
    expect(loser["MasterRecordId"] == TRUTH["merged_survivor"], str(loser))
    live = sf.query_all("SELECT Id FROM Account WHERE IsDeleted = true")
    expect(live["totalSize"] == 0, "query never returns deleted rows")


@check("keyset paging on (SystemModstamp, Id) with OR and AND returns the rest, in order")
def _():
    middle = sorted(ACCOUNTS, key=lambda a: (a["SystemModstamp"], a["Id"]))[len(ACCOUNTS) // 2]
    stamp = middle["SystemModstamp"].replace(".000+0000", "Z")
    soql = (f"SELECT Id, SystemModstamp FROM Account WHERE (SystemModstamp > {stamp}) OR "
            f"(SystemModstamp = {stamp} AND Id > '{middle['Id']}') ORDER BY SystemModstamp ASC, Id ASC LIMIT 100")
    got = [r["Id"] for r in sf.query(soql)["records"]]
    want = [a["Id"] for a in sorted(ACCOUNTS, key=lambda a: (a["SystemModstamp"], a["Id"]))]
    start = want.index(middle["Id"]) + 1
    expect(got == want[start:start + 100], "the next hundred by (SystemModstamp, Id)")


@check("describe: compound addresses with components, a custom object with formulas and a geolocation")
def _():
    account = {f["name"]: f for f in sf.Account.describe()["fields"]}
    expect(account["BillingAddress"]["type"] == "address", "BillingAddress is an address")
    expect(account["BillingCity"]["compoundFieldName"] == "BillingAddress", "components name their compound")
    expect(account["NumberOfEmployees"]["type"] == "int", "int")
    invoice = {f["name"]: f for f in sf.Invoice__c.describe()["fields"]}
    expect(invoice["Total__c"]["calculated"] and invoice["Total__c"]["calculatedFormula"], "formula")
    expect(invoice["Site__c"]["type"] == "location", "geolocation")
    expect(invoice["Tags__c"]["type"] == "multipicklist", "multipicklist")
    kinds = {f["type"] for f in invoice.values()}
    for kind in ["currency", "percent", "double", "boolean", "date", "datetime", "time", "email", "phone", "url",
                 "picklist", "textarea", "encryptedstring", "reference", "string"]:
        expect(kind in kinds, f"Invoice__c has a {kind} field")
    objects = {o["name"]: o for o in sf.describe()["sobjects"]}
    expect(objects["Invoice__c"]["custom"] and objects["Invoice__c"]["replicateable"], "custom, replicateable")
    expect(objects["AccountHistory"]["queryable"] and not objects["AccountHistory"]["replicateable"], "history")


@check("bulk2 query: a job polled to completion, CSV chunks by locator equal the truth")
def _():
    fields = ["Id", "Name", "Description", "AnnualRevenue", "Active__c", "BillingCity"]
    chunks = list(sf.bulk2.Account.query(f"SELECT {', '.join(fields)} FROM Account", max_records=500, wait=0.2))
    expect(len(chunks) == -(-len(ACCOUNTS) // 500), f"{len(chunks)} chunks")
    rows = [row for chunk in chunks for row in csv.DictReader(io.StringIO(chunk))]
    expect([r["Id"] for r in rows] == [a["Id"] for a in ACCOUNTS], "every live account once")
    multi_line = 0
    for row in rows:
        truth = BY_ID[row["Id"]]
        for field in ["Name", "Description", "BillingCity"]:
            expect(row[field] == (truth[field] or ""), f"{field}: {row[field]!r} != {truth[field]!r}")
        expect(row["Active__c"] == str(truth["Active__c"]).lower(), "booleans as true/false")
        expect((row["AnnualRevenue"] == "") == (truth["AnnualRevenue"] is None), "null is empty")
        multi_line += "\n" in row["Description"]
    expect(multi_line > 0, "some values span lines")


@check("bulk2 refuses a compound field")
def _():
    try:
        list(sf.bulk2.Account.query("SELECT Id, BillingAddress FROM Account", wait=0.1))
    except Exception as e:  # noqa: BLE001 - bulk2 raises the REST exception classes
        expect("compound" in str(e), str(e))
        return
    raise AssertionError("no exception")


@check("sobject updated/deleted: the windows list the changed and deleted ids")
def _():
    start = datetime.datetime.fromtimestamp(TRUTH["window_start"], tz=datetime.timezone.utc)
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    updated = sf.Account.updated(start, end)
    expect(TRUTH["updated"] in updated["ids"], f"{TRUTH['updated']} not in {updated['ids'][:5]}")
    expect(updated["latestDateCovered"].endswith("+0000"), updated["latestDateCovered"])
    deleted = sf.Account.deleted(start, end)
    ids = {d["id"] for d in deleted["deletedRecords"]}
    expect(TRUTH["fresh_deleted"] in ids and TRUTH["purged"] in ids, f"{ids}")
    expect("earliestDateAvailable" in deleted, str(deleted))


@check("errors: a bad field is INVALID_FIELD, a bad session is an expired session")
def _():
    try:
        sf.query("SELECT Id, Nope__c FROM Account")
        raise AssertionError("no exception")
    except SalesforceMalformedRequest as e:
        expect(e.content[0]["errorCode"] == "INVALID_FIELD", str(e.content))
    stale = Salesforce(instance_url=TRUTH["instance_url"], session_id="00Dbogus!AR", session=session())
    try:
        stale.query("SELECT Id FROM Account LIMIT 1")
        raise AssertionError("no exception")
    except SalesforceExpiredSession as e:
        expect(e.content[0]["errorCode"] == "INVALID_SESSION_ID", str(e.content))


@check("client credentials (Basic) at My Domain, and a wrong secret refused")
def _():
    app = Salesforce(consumer_key=CLIENT_ID, consumer_secret=CLIENT_SECRET, domain="acme.my", session=session())
    expect(app.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1, "reads")
    try:
        Salesforce(consumer_key=CLIENT_ID, consumer_secret="wrong", domain="acme.my", session=session())
        raise AssertionError("no exception")
    except SalesforceAuthenticationFailed as e:
        expect(e.code == "invalid_client", str(e))


@check("JWT bearer signed with the connected app's key; another key is refused")
def _():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    answer = requests.post(f"{FAKE}/_fake/connected-app/keys", json={"public_key_pem": public},
                           headers={"Authorization": f"Bearer {CLIENT_SECRET}"}, timeout=10)
    expect(answer.status_code == 200, answer.text)
    jwt = Salesforce(username=USERNAME, consumer_key=CLIENT_ID, privatekey=private, session=session())
    expect(jwt.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1, "reads")
    try:
        Salesforce(username=USERNAME, consumer_key=CLIENT_ID, privatekey=other, session=session())
        raise AssertionError("no exception")
    except SalesforceAuthenticationFailed as e:
        expect(e.code == "invalid_grant", str(e))


@check("limits, then a spent daily allocation answers 403 REQUEST_LIMIT_EXCEEDED")
def _():
    limits = sf.limits()
    expect(limits["DailyApiRequests"]["Max"] == TRUTH["daily_limit"], str(limits["DailyApiRequests"]))
    answer = requests.post(f"{FAKE}/_fake/limits", json={"used_elsewhere": TRUTH["daily_limit"]},
                           headers={"Authorization": f"Bearer {CLIENT_SECRET}"}, timeout=10)
    expect(answer.status_code == 200, answer.text)
    try:
        sf.query("SELECT Id FROM Account LIMIT 1")
        raise AssertionError("no exception")
    except SalesforceRefusedRequest as e:
        expect(e.status == 403 and e.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED", str(e.content))


failed = [name for name, error in results if error]
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
