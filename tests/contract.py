"""Reference checks of the data contract (schemas/README.md), straight from the files in schemas/ (tests only).

They judge the generator's output; the Lambda's own streaming validators (issue 4) are tested
against the same files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import jsonschema
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"


def _xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "customer_details.xsd")))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def check_xml(data: bytes) -> list[str]:
    if not data:
        return ["empty file"]
    try:
        doc = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as e:
        return [f"not well-formed: {e}"]
    tree = doc.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        return ["DTD present"]
    schema = _xsd()
    if not schema.validate(doc):
        return [str(e) for e in schema.error_log]
    return []


def _no_dup_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"non-finite number {name}")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is not finite")
    return value


def load_json_records(data: bytes, name: str) -> list:
    text = data.decode("utf-8-sig")
    kw = {"object_pairs_hook": _no_dup_keys, "parse_constant": _reject_constant, "parse_float": _finite_float}
    if name.lower().endswith(".json"):
        records = json.loads(text, **kw)
        if not isinstance(records, list):
            raise ValueError("a .json purchases file must hold an array")
        return records
    return [json.loads(line, **kw) for line in text.splitlines() if line.strip()]


def check_json(data: bytes, name: str) -> list[str]:
    if not data:
        return ["empty file"]
    if not name.lower().endswith((".json", ".jsonl", ".ndjson")):
        return [f"extension of {name} is not a JSON one"]
    try:
        records = load_json_records(data, name)
    except (UnicodeDecodeError, ValueError) as e:
        return [f"not valid JSON: {e}"]
    schema = json.loads((SCHEMAS / "purchase.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = []
    for n, rec in enumerate(records, 1):
        errors += [f"record {n}: {e.message}" for e in validator.iter_errors(rec)]
    return errors


def feedback_spec() -> dict:
    return json.loads((SCHEMAS / "feedback.columns.json").read_text())


def read_feedback(data: bytes) -> list[dict]:
    """Rows as dicts; raises ValueError on anything the contract refuses."""
    text = data.decode("utf-8-sig")  # strict UTF-8, optional BOM
    spec = feedback_spec()
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    rows = [r for r in rows if r != []]  # completely empty lines are ignored
    if not rows or rows[0] != spec["header"]:
        raise ValueError(f"header is {rows[0] if rows else None}, expected {spec['header']}")
    out = []
    for n, row in enumerate(rows[1:], 2):
        if len(row) != len(spec["header"]):
            raise ValueError(f"row {n}: {len(row)} fields, expected {len(spec['header'])}")
        rec = dict(zip(spec["header"], row, strict=True))
        for col in spec["columns"]:
            v = rec[col["name"]]
            if col["required"] and v == "":
                raise ValueError(f"row {n}: {col['name']} is required")
            if v and "pattern" in col and not re.fullmatch(col["pattern"], v):
                raise ValueError(f"row {n}: {col['name']}={v!r} does not match {col['pattern']}")
            if "max_length" in col and len(v) > col["max_length"]:
                raise ValueError(f"row {n}: {col['name']} longer than {col['max_length']}")
        out.append(rec)
    return out


def check_csv(data: bytes, name: str) -> list[str]:
    if not data:
        return ["empty file"]
    if not name.lower().endswith(".csv"):
        return [f"extension of {name} is not .csv"]
    try:
        read_feedback(data)
    except (UnicodeDecodeError, ValueError, csv.Error) as e:
        return [str(e)]
    return []


def check_file(dataset: str, path: Path) -> list[str]:
    data = path.read_bytes()
    if dataset == "customer_details":
        if not path.name.lower().endswith(".xml"):
            return [f"extension of {path.name} is not .xml"]
        return check_xml(data)
    if dataset == "purchases":
        return check_json(data, path.name)
    return check_csv(data, path.name)
