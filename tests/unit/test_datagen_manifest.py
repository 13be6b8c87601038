"""The manifest's counts equal what an independent reading of the files finds, defect by defect.

Each rule is judged here the way schemas/README.md states it, with email-validator and
phonenumbers as the shared validators, and "now" as the processing time.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import phonenumbers
import pytest
from contract import load_json_records, read_feedback
from etl_oracle import email_ok as _email_ok
from etl_oracle import phone_ok as _phone_ok
from lxml import etree

NOW = datetime.now(UTC)
TODAY = NOW.date()


def _good(manifest, dataset):
    return [f for f in manifest["files"] if f["dataset"] == dataset and f["role"] != "bad"]


@pytest.fixture(scope="module")
def found(generated):
    """Per file: Counter of defect kinds found by reading the files, plus derived sets."""
    out, manifest = generated
    per_file: dict[str, Counter] = defaultdict(Counter)
    errors: Counter = Counter()
    customer_ids: dict[str, str] = {}  # id -> file of its latest version
    # ---- customers
    for f in _good(manifest, "customer_details"):
        seen_xml = Counter()
        for el in etree.parse(str(out / f["path"])).getroot():
            blob = etree.tostring(el)
            seen_xml[blob] += 1
            if seen_xml[blob] > 1:
                per_file[f["path"]]["exact_duplicate"] += 1
                continue
            cid = el.get("id")
            if cid in customer_ids:
                per_file[customer_ids[cid]]["superseded_version"] += 1
            customer_ids[cid] = f["path"]
            kinds = []
            if not _email_ok(el.findtext("email")):
                kinds.append("invalid_email")
            if el.findtext("phone") is not None and not _phone_ok(el.findtext("phone")):
                kinds.append("invalid_phone")
            if date.fromisoformat(el.findtext("signup_date")) > TODAY:
                kinds.append("future_signup_date")
            dob = el.findtext("date_of_birth")
            if dob and date.fromisoformat(dob) > TODAY:
                kinds.append("future_date_of_birth")
            per_file[f["path"]].update(kinds)
            errors[f["path"]] += bool(kinds)
    # ---- purchases
    purchases = {}  # purchase_id -> list of distinct records
    where = {}
    for f in _good(manifest, "purchases"):
        seen = Counter()
        for rec in load_json_records((out / f["path"]).read_bytes(), f["path"]):
            canon = json.dumps(rec, sort_keys=True)
            seen[canon] += 1
            if seen[canon] > 1:
                per_file[f["path"]]["exact_duplicate"] += 1
                continue
            purchases.setdefault(rec["purchase_id"], []).append(rec)
            where.setdefault(rec["purchase_id"], f["path"])
    curated = {}
    for pid, recs in purchases.items():
        path = where[pid]
        if len(recs) > 1:
            per_file[path]["conflicting_duplicate_id"] += len(recs)
            errors[path] += len(recs)
            continue
        rec = recs[0]
        kinds = []
        if rec["customer_id"] not in customer_ids:
            kinds.append("unknown_customer")
        computed = sum(Decimal(repr(i["quantity"])) * Decimal(repr(i["unit_price"])) for i in rec["items"])
        diff = abs(computed - Decimal(repr(rec["total_amount"])))
        if diff > Decimal("0.01"):
            kinds.append("total_mismatch")
        elif diff == Decimal("0.01"):
            per_file[path]["total_off_by_one_cent"] += 1  # inside the inclusive bound: not an error
        if datetime.fromisoformat(rec["purchase_ts"]) > NOW:
            kinds.append("future_purchase_ts")
        per_file[path].update(kinds)
        errors[path] += bool(kinds)
        if not set(kinds) & {"unknown_customer", "total_mismatch"}:
            curated[pid] = rec
    # ---- feedback
    with open(out / "ground_truth.csv", newline="") as fh:
        person = {r["source_customer_id"]: r["person_id"] for r in csv.DictReader(fh)}
    rows_by_id = defaultdict(list)
    where_fb = {}
    for f in _good(manifest, "feedback"):
        seen = Counter()
        for row in read_feedback((out / f["path"]).read_bytes()):
            key = tuple(row.values())
            seen[key] += 1
            if seen[key] > 1:
                per_file[f["path"]]["exact_duplicate"] += 1
                continue
            rows_by_id[row["feedback_id"]].append(row)
            where_fb.setdefault(row["feedback_id"], f["path"])
    for fid, rows in rows_by_id.items():
        path = where_fb[fid]
        if len(rows) > 1:
            per_file[path]["conflicting_duplicate_id"] += len(rows)
            errors[path] += len(rows)
            continue
        row, kinds = rows[0], []
        if row["customer_id"] not in customer_ids:
            kinds.append("unknown_customer")
        pid = row["purchase_id"]
        if pid and pid not in curated:
            kinds.append("unknown_purchase")
        elif pid and person.get(curated[pid]["customer_id"]) != person.get(row["customer_id"]) \
                and "unknown_customer" not in kinds:
            kinds.append("purchase_of_other_customer")
        if date.fromisoformat(row["feedback_date"]) > TODAY:
            kinds.append("future_feedback_date")
        per_file[path].update(kinds)
        errors[path] += bool(kinds)
    return per_file, errors, customer_ids, person


def test_defect_counts_per_file_match_the_manifest(generated, found):
    _, manifest = generated
    per_file, errors, _, _ = found
    checked = 0
    for f in manifest["files"]:
        if f["role"] == "bad":
            continue
        assert dict(per_file[f["path"]]) == f["defects"], f["path"]
        assert errors[f["path"]] == f["error_records"], f["path"]
        checked += sum(f["defects"].values())
    assert checked > 300  # the fixture injects hundreds of defects: this is not an empty comparison


def test_every_defect_kind_is_present(generated):
    _, manifest = generated
    ds = manifest["datasets"]
    assert set(ds["customer_details"]["defects"]) >= {"invalid_email", "invalid_phone", "future_signup_date",
                                                      "future_date_of_birth", "exact_duplicate", "superseded_version"}
    assert set(ds["purchases"]["defects"]) >= {"unknown_customer", "total_mismatch", "conflicting_duplicate_id",
                                               "future_purchase_ts", "exact_duplicate", "total_off_by_one_cent"}
    assert set(ds["feedback"]["defects"]) >= {"unknown_customer", "conflicting_duplicate_id", "unknown_purchase",
                                              "purchase_of_other_customer", "future_feedback_date", "exact_duplicate"}


def test_injected_csv_lists_each_injected_record(generated):
    out, manifest = generated
    with open(out / "injected.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    counted = Counter((r["file"], r["defect"]) for r in rows)
    expected = Counter({(f["path"], k): n for f in manifest["files"] for k, n in f.get("defects", {}).items()})
    assert counted == expected
    assert {r["rule"] for r in rows} == {"reject", "flag", "collapse", "supersede", "none"}


def test_record_counts_match(generated):
    out, manifest = generated
    for f in _good(manifest, "purchases"):
        assert len(load_json_records((out / f["path"]).read_bytes(), f["path"])) == f["records"]
    for f in _good(manifest, "feedback"):
        assert len(read_feedback((out / f["path"]).read_bytes())) == f["records"]
    for f in _good(manifest, "customer_details"):
        assert len(etree.parse(str(out / f["path"])).getroot()) == f["records"]
    assert manifest["datasets"]["purchases"]["records"] >= 6000


def test_ground_truth_covers_every_source_id_once(generated, found):
    _, manifest = generated
    _, _, customer_ids, person = found
    assert set(person) == set(customer_ids)
    ident = manifest["datasets"]["customer_details"]["identity"]
    sizes = Counter(Counter(person.values()).values())
    assert len(set(person.values())) == ident["persons"]
    assert sizes[2] == ident["persons_with_two_ids"] and sizes[3] == ident["persons_with_three_ids"]
    assert sum(n * (n - 1) // 2 * c for n, c in sizes.items()) == ident["true_pairs"]
    assert ident["source_ids"] == len(person) == manifest["generator"]["params"]["customers"]
    assert sum(ident["perturbations"].values()) >= ident["variant_records"]


def test_duplicates_are_linked_by_email_or_phone_and_birth_date(generated, found):
    """A person's ids share an email once trimmed and lower-cased, or a phone and a date of birth."""
    out, manifest = generated
    _, _, _, person = found
    recs = {}
    for f in _good(manifest, "customer_details"):
        for el in etree.parse(str(out / f["path"])).getroot():
            recs[el.get("id")] = el
    by_person = defaultdict(list)
    for cid, pid in person.items():
        by_person[pid].append(recs[cid])
    multi = [els for els in by_person.values() if len(els) > 1]
    assert multi
    def key(e):
        phone = e.findtext("phone")
        e164 = phonenumbers.format_number(phonenumbers.parse(phone, "US"), phonenumbers.PhoneNumberFormat.E164) \
            if phone else None
        return e.findtext("email").strip().lower(), (e164, e.findtext("date_of_birth"))

    for els in multi:
        keys = [key(e) for e in els]
        for n, (email, phone_dob) in enumerate(keys):
            others = keys[:n] + keys[n + 1:]
            linked = any(email == o[0] or (phone_dob[0] and phone_dob == o[1]) for o in others)
            assert linked, [etree.tostring(e) for e in els]
