"""Whole files that the validation Lambda must send to error/: each kind says why.

Their records are made up for the file (ids starting BAD-) and never count among the good data.
"""

from __future__ import annotations

import json

_CUSTOMER = (
    '  <customer id="BAD-{n}">\n    <first_name>{first}</first_name>\n    <last_name>Example</last_name>\n'
    "    <email>bad{n}@example.org</email>\n    <signup_date>2024-01-15</signup_date>\n  </customer>\n"
)
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _customers(n: int, first: str = "Eve", body_extra: str = "") -> str:
    return _CUSTOMER.format(n=n, first=first) + body_extra


def _purchase(n: int, **override) -> dict:
    rec = {"purchase_id": f"BAD-P{n}", "customer_id": f"BAD-{n}", "purchase_ts": "2024-03-01T10:00:00Z",
           "currency": "USD", "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": 9.99}], "total_amount": 9.99}
    rec.update(override)
    return rec


_HEADER = "feedback_id,customer_id,purchase_id,feedback_date,rating,channel,comment"


def _feedback_row(n: int, rating: str = "4", date: str = "2024-03-02") -> str:
    return f'BAD-F{n},BAD-{n},,{date},{rating},email,"fine, thanks"'


def customer_details(kind: str, n: int) -> tuple[str, bytes]:
    """(extension, content) for a bad customer_details file of this kind."""
    good = _XML_DECL + "<customers>\n" + _customers(n) + "</customers>\n"
    if kind == "not_well_formed":
        return "xml", good[: len(good) // 2].encode()
    if kind == "wrong_root":
        return "xml", good.replace("<customers>", "<clients>").replace("</customers>", "</clients>").encode()
    if kind == "entity_expansion":  # "billion laughs"
        ents = '<!ENTITY lol "lol">' + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        doc = _XML_DECL + f"<!DOCTYPE customers [{ents}]>\n<customers>\n" + _customers(n, "&lol9;") + "</customers>\n"
        return "xml", doc.encode()
    if kind == "external_entity":
        doc = (_XML_DECL + '<!DOCTYPE customers [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<customers>\n'
               + _customers(n, "&xxe;") + "</customers>\n")
        return "xml", doc.encode()
    if kind == "external_dtd":
        doc = (_XML_DECL + '<!DOCTYPE customers SYSTEM "http://127.0.0.1:9/customers.dtd">\n<customers>\n'
               + _customers(n) + "</customers>\n")
        return "xml", doc.encode()
    if kind == "missing_required":
        return "xml", good.replace("    <signup_date>2024-01-15</signup_date>\n", "").encode()
    if kind == "unknown_element":
        return "xml", good.replace("</last_name>\n", "</last_name>\n    <nickname>Evie</nickname>\n").encode()
    if kind == "namespaced":
        return "xml", good.replace("<customers>", '<customers xmlns="urn:example:crm">').encode()
    if kind == "wrong_extension":
        return "json", good.encode()
    if kind == "empty_file":
        return "xml", b""
    raise ValueError(kind)


def purchases(kind: str, n: int) -> tuple[str, bytes]:
    if kind == "not_json":
        text = json.dumps([_purchase(n), _purchase(n + 1)])
        return "json", text[: len(text) // 2].encode()
    if kind == "wrong_extension":
        return "csv", json.dumps([_purchase(n)]).encode()
    if kind == "missing_required":
        rec = _purchase(n)
        del rec["purchase_id"]
        return "json", json.dumps([rec]).encode()
    if kind == "bad_type":
        return "jsonl", (json.dumps(_purchase(n, items=[{"sku": "SKU-1", "quantity": "two", "unit_price": 1}]))
                         + "\n").encode()
    if kind == "duplicate_keys":
        return "json", (f'[{{"purchase_id": "BAD-P{n}", "purchase_id": "BAD-P{n}-again", "customer_id": "BAD-1", '
                        '"purchase_ts": "2024-03-01T10:00:00Z", "currency": "USD", "items": '
                        '[{"sku": "S", "quantity": 1, "unit_price": 1.0}], "total_amount": 1.0}]').encode()
    if kind == "nan_value":
        return "json", json.dumps([_purchase(n, total_amount=float("nan"))]).encode()  # writes NaN
    if kind == "huge_number":
        return "json", json.dumps([_purchase(n)]).replace('"total_amount": 9.99', '"total_amount": 1e400').encode()
    if kind == "unknown_field":
        return "json", json.dumps([_purchase(n, coupon="SPRING")]).encode()
    if kind == "empty_items":
        return "json", json.dumps([_purchase(n, items=[])]).encode()
    if kind == "not_utf8":
        return "json", json.dumps([_purchase(n, store_id="Caf\u00e9")], ensure_ascii=False).encode("latin-1")
    if kind == "empty_file":
        return "json", b""
    raise ValueError(kind)


def feedback(kind: str, n: int) -> tuple[str, bytes]:
    good_rows = [_feedback_row(n), _feedback_row(n + 1)]
    if kind == "wrong_header":
        return "csv", ("feedback_id,customer_id,rating,comment\n" + "\n".join(good_rows) + "\n").encode()
    if kind == "wrong_field_count":
        return "csv", (_HEADER + "\n" + good_rows[0] + ",extra\n").encode()
    if kind == "bad_rating":
        return "csv", (_HEADER + "\n" + _feedback_row(n, rating="5.0") + "\n").encode()
    if kind == "bad_date":
        return "csv", (_HEADER + "\n" + _feedback_row(n, date="03/02/2024") + "\n").encode()
    if kind == "not_utf8":
        return "csv", (_HEADER + "\n" + _feedback_row(n).replace("fine", "tr\u00e8s bien") + "\n").encode("latin-1")
    if kind == "unterminated_quote":
        return "csv", (_HEADER + "\n" + good_rows[0][:-1] + "\n").encode()
    if kind == "wrong_extension":
        return "json", (_HEADER + "\n" + "\n".join(good_rows) + "\n").encode()
    if kind == "empty_file":
        return "csv", b""
    raise ValueError(kind)


KINDS = {
    "customer_details": ("not_well_formed", "entity_expansion", "wrong_root", "external_entity", "missing_required",
                         "external_dtd", "unknown_element", "namespaced", "wrong_extension", "empty_file"),
    "purchases": ("not_json", "missing_required", "duplicate_keys", "wrong_extension", "bad_type", "nan_value",
                  "huge_number", "unknown_field", "empty_items", "not_utf8", "empty_file"),
    "feedback": ("wrong_header", "wrong_field_count", "bad_rating", "unterminated_quote", "bad_date", "not_utf8",
                 "wrong_extension", "empty_file"),
}
MAKERS = {"customer_details": customer_details, "purchases": purchases, "feedback": feedback}
