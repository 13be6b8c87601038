"""An independent computation of the Glue job's results from the validated files (tests only).

Plain Python over the files (lxml, json, csv, Decimal, email-validator, phonenumbers, TextBlob), written from
schemas/README.md ("Data-quality rules", "Outputs"), never from the job's code.
Identity clusters are taken from the job's
golden table (`source_customer_ids`): precision and recall are measured separately against the ground truth.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import phonenumbers
from contract import load_json_records, read_feedback
from email_validator import EmailNotValidError, validate_email
from lxml import etree

CENT = Decimal("0.01")


def email_ok(text: str) -> bool:
    """email-validator's verdict after trimming and lower-casing, without DNS (the shared validator)."""
    try:
        validate_email(text.strip().lower(), check_deliverability=False)
        return True
    except EmailNotValidError:
        return False


def phone_ok(text: str) -> bool:
    """phonenumbers' verdict with default region US (the shared validator)."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text.strip(), "US"))
    except phonenumbers.NumberParseException:
        return False


def _polarity_label(text: str) -> str:
    from textblob import TextBlob

    p = round(TextBlob(text).sentiment.polarity, 4) if text else 0.0
    return "positive" if p >= 0.1 else "negative" if p <= -0.1 else "neutral"


def _files(folder: Path, dataset: str) -> list[Path]:
    return sorted(p for p in (folder / dataset).rglob("*") if p.is_file())


def expected(folder: Path, schemas: Path, clusters: dict[str, str], now: datetime) -> dict[str, dict]:
    """Per golden customer id: the golden figures the job must produce; `clusters` maps source id -> golden id."""
    today = now.date()
    rates = {r["currency"]: Decimal(r["usd_per_unit"]) for r in csv.DictReader(open(schemas / "currency_rates.csv"))}
    # customers: every distinct record is judged; the ids known are every source id seen
    ok_records: dict[str, list[bool]] = defaultdict(list)
    known = set()
    for path in _files(folder, "customer_details"):
        seen = set()
        for el in etree.parse(str(path)).getroot():
            blob = etree.tostring(el)
            if blob in seen:
                continue
            seen.add(blob)
            cid = el.get("id")
            known.add(cid)
            dob = el.findtext("date_of_birth")
            phone = el.findtext("phone")
            ok = email_ok(el.findtext("email")) and (phone is None or phone_ok(phone)) \
                and date.fromisoformat(el.findtext("signup_date")) <= today and (not dob or date.fromisoformat(dob)
                                                                                  <= today)
            ok_records[clusters.get(cid, "?")].append(ok)
    # purchases
    by_id = defaultdict(list)
    for path in _files(folder, "purchases"):
        seen = set()
        for rec in load_json_records(path.read_bytes(), path.name):
            canon = repr(sorted(rec.items()))
            if canon in seen:
                continue
            seen.add(canon)
            by_id[rec["purchase_id"]].append(rec)
    orders = defaultdict(list)
    curated = {}
    for pid, recs in by_id.items():
        for rec in recs:
            owner = clusters.get(rec["customer_id"], "?")
            if len(recs) > 1 or rec["customer_id"] not in known:
                ok_records[owner].append(False)
                continue
            total = sum(Decimal(repr(i["quantity"])) * Decimal(repr(i["unit_price"])) for i in rec["items"])
            if abs(total - Decimal(repr(rec["total_amount"]))) > CENT:
                ok_records[owner].append(False)
                continue
            ts = datetime.fromisoformat(rec["purchase_ts"])
            ok_records[owner].append(ts <= now)
            curated[pid] = rec
            orders[owner].append((Decimal(repr(rec["total_amount"])) * rates[rec["currency"]],
                                  ts.astimezone(UTC).replace(tzinfo=None) if ts <= now else None))
    # feedback
    rows_by_id = defaultdict(list)
    for path in _files(folder, "feedback"):
        seen = set()
        for row in read_feedback(path.read_bytes()):
            key = tuple(row.values())
            if key in seen:
                continue
            seen.add(key)
            rows_by_id[row["feedback_id"]].append(row)
    opinions = defaultdict(list)
    for rows in rows_by_id.values():
        for row in rows:
            owner = clusters.get(row["customer_id"], "?")
            if len(rows) > 1 or row["customer_id"] not in known:
                ok_records[owner].append(False)
                continue
            pid = row["purchase_id"]
            ok = date.fromisoformat(row["feedback_date"]) <= today
            if pid and (pid not in curated or clusters.get(curated[pid]["customer_id"]) != owner):
                ok = False
            ok_records[owner].append(ok)
            opinions[owner].append((int(row["rating"]), _polarity_label(row["comment"])))
    out = {}
    for golden in set(clusters.values()):
        spend = sum((o[0] for o in orders[golden]), Decimal(0))
        n = len(orders[golden])
        stamps = [o[1] for o in orders[golden] if o[1] is not None]
        ratings = [o[0] for o in opinions[golden]]
        labels = [o[1] for o in opinions[golden]]
        oks = ok_records[golden]
        out[golden] = {
            "order_count": n, "total_spend": spend.quantize(CENT, ROUND_HALF_UP),
            "avg_order_value": (spend / n).quantize(CENT, ROUND_HALF_UP) if n else None,
            "first_purchase_at": min(stamps) if stamps else None, "last_purchase_at": max(stamps) if stamps else None,
            "feedback_count": len(ratings),
            "avg_rating": (Decimal(sum(ratings)) / len(ratings)).quantize(CENT, ROUND_HALF_UP) if ratings else None,
            "positive_feedback": labels.count("positive"), "neutral_feedback": labels.count("neutral"),
            "negative_feedback": labels.count("negative"),
            "dq_score": (Decimal(sum(oks)) * 100 / len(oks)).quantize(CENT, ROUND_HALF_UP) if oks else None,
        }
    return out
