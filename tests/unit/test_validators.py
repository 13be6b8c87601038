"""The Lambda's streaming validators (lambda/validators.py) against the contract, the generator and peer corpora."""

from __future__ import annotations

import io
import json
import socket
import threading
import zipfile

import pytest
from corpora import CORPORA

from c360 import shipped


def test_the_peer_corpora_are_there():
    assert (CORPORA / "xmltest-jclark" / "xmltest.zip").is_file(), (
        f"the peer corpora are missing at {CORPORA}: they are vendored in tests/corpora/ (see its README)")


@pytest.fixture(scope="module")
def v():
    return shipped.lambda_module("contract_validators")


@pytest.fixture(scope="module")
def handler():
    return shipped.lambda_module("handler")


def check(v, dataset: str, data: bytes, name: str | None = None):
    fmt = {"customer_details": "xml", "purchases": "json", "feedback": "csv"}[dataset]
    name = name or {"xml": "f.xml", "json": "f.json", "csv": "f.csv"}[fmt]
    return v.validate(io.BytesIO(data), dataset, fmt, name)


def codes(report) -> set[str]:
    return {e["code"] for e in report.errors}


# ------------------------------------------------------------------ generated files
def test_generated_good_files_pass_and_bad_files_fail(v, handler, generated):
    out, manifest = generated
    for f in manifest["files"]:
        path = out / f["path"]
        try:
            dataset, fmt = handler.classify_key(f["path"])
        except handler.UnknownKey:
            assert f["role"] == "bad" and f["bad_kind"] == "wrong_extension", f["path"]
            continue
        with open(path, "rb") as fh:
            report = v.validate(fh, dataset, fmt, path.name)
        if f["role"] == "bad":
            assert not report.valid, f"{f['path']} ({f['bad_kind']}) was accepted"
        else:
            assert report.valid, (f["path"], report.errors[:3])
            assert report.records == f["records"], f["path"]


# ------------------------------------------------------------------ hostile XML
def _corpus_files():
    for folder in ("defusedxml-xmltestdata", "payloadsallthethings-xxe"):
        if not (CORPORA / folder).is_dir():
            continue  # test_the_peer_corpora_are_there says so
        for p in sorted((CORPORA / folder).iterdir()):
            if p.name not in ("LICENSE", "SOURCE.md") and p.suffix != ".xsd":
                yield p


@pytest.mark.parametrize("path", list(_corpus_files()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_hostile_and_foreign_xml_is_refused(v, path):
    report = check(v, "customer_details", path.read_bytes())
    assert not report.valid
    assert codes(report) & {"dtd", "not_well_formed", "wrong_root", "format_mismatch"}


def test_no_network_and_no_file_read(v, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-7f3a9c")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    payloads = [
        f'<?xml version="1.0"?><!DOCTYPE customers [<!ENTITY x SYSTEM "file://{canary}">]><customers>&x;</customers>',
        f'<?xml version="1.0"?><!DOCTYPE customers SYSTEM "http://127.0.0.1:{port}/a.dtd"><customers/>',
        f'<?xml version="1.0"?><!DOCTYPE customers [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p">%p;]>'
        "<customers/>",
        f'<customers xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://{canary}" parse="text"/>'
        "</customers>",
        f'<customers><customer id="{canary}"/></customers>',
    ]
    # a DOCTYPE that only appears after 64 KB of comments is caught by lxml's own check, also without fetching
    payloads.append("<!--" + "x" * 70000 + f'--><!DOCTYPE customers SYSTEM "http://127.0.0.1:{port}/b.dtd">'
                    "<customers/>")
    reports = [check(v, "customer_details", p.encode()) for p in payloads]
    assert all(not r.valid for r in reports)
    assert "CANARY-7f3a9c" not in json.dumps([r.as_dict() for r in reports])
    with pytest.raises(OSError):  # nobody connected
        listener.accept()
    listener.close()


def test_james_clark_not_well_formed_cases_are_all_refused(v, tmp_path):
    with zipfile.ZipFile(CORPORA / "xmltest-jclark" / "xmltest.zip") as z:
        z.extractall(tmp_path)
    cases = sorted((tmp_path / "xmltest" / "not-wf").rglob("*.xml"))
    assert len(cases) >= 186
    for case in cases:
        report = check(v, "customer_details", case.read_bytes())
        assert not report.valid, case
        assert codes(report) & {"not_well_formed", "dtd", "empty"}, (case, report.errors)
    for case in sorted((tmp_path / "xmltest" / "valid").rglob("*.xml")):  # well-formed, but not customers
        assert not check(v, "customer_details", case.read_bytes()).valid, case


# ------------------------------------------------------------------ CSV reading path
@pytest.mark.parametrize("name", sorted(p.stem for p in (CORPORA / "csv-spectrum" / "csvs").glob("*.csv")
                                        if p.stem != "location_coordinates")  # not RFC 4180: see the next test
                         if (CORPORA / "csv-spectrum").is_dir() else [])
def test_csv_reading_matches_csv_spectrum(v, name):
    data = (CORPORA / "csv-spectrum" / "csvs" / f"{name}.csv").read_bytes()
    expected = json.loads((CORPORA / "csv-spectrum" / "json" / f"{name}.json").read_text(encoding="utf-8"))
    rows = [row for _, row in v.read_csv_rows(io.BufferedReader(io.BytesIO(data)))]
    header, body = rows[0], rows[1:]
    if isinstance(expected, dict):  # csv-spectrum writes a one-row file's expectation as a bare object
        expected = [expected]
    parsed = [dict(zip(header, r, strict=True)) for r in body]
    assert parsed == expected


def test_csv_spectrum_quotes_in_unquoted_fields_are_refused(v):
    """csv-spectrum's location_coordinates.csv has unquoted fields with a quote inside (37°36'37.8"N): its JSON reads
    them as text, RFC 4180 (and so the contract) does not."""
    data = (CORPORA / "csv-spectrum" / "csvs" / "location_coordinates.csv").read_bytes()
    with pytest.raises(v.CsvSyntaxError, match="quote inside an unquoted field") as e:
        list(v.read_csv_rows(io.BufferedReader(io.BytesIO(data))))
    assert e.value.line == 2


# ------------------------------------------------------------------ contract details, one by one
CUSTOMER = ('<customer id="C1"><first_name>Ann</first_name><last_name>Lee</last_name><email>a@b.co</email>'
            "<signup_date>2024-01-02</signup_date>{extra}</customer>")


def customers(*records: str, decl: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (decl + "<customers>" + "".join(records) + "</customers>").encode()


PURCHASE = {"purchase_id": "P1", "customer_id": "C1", "purchase_ts": "2024-03-01T10:00:00+01:00", "currency": "USD",
            "items": [{"sku": "S1", "quantity": 2, "unit_price": 1.5}], "total_amount": 3.0}
HEADER = "feedback_id,customer_id,purchase_id,feedback_date,rating,channel,comment"


@pytest.mark.parametrize("data, valid", [
    (customers(CUSTOMER.format(extra="")), True),
    (customers(CUSTOMER.format(extra="<nickname>A</nickname>")), False),  # closed records
    (customers('<customer id="C1"><signup_date>2024-01-02</signup_date><email>a@b.co</email>'
               "<last_name>Lee</last_name><first_name>Ann</first_name></customer>"), True),  # any child order
    (b'<customers xmlns="urn:x">' + CUSTOMER.format(extra="").encode() + b"</customers>", False),  # namespaced
    (customers(CUSTOMER.format(extra="<marketing_opt_in>1</marketing_opt_in>")), True),  # xs:boolean
    (customers(CUSTOMER.format(extra="<marketing_opt_in>yes</marketing_opt_in>")), False),
    (customers(CUSTOMER.format(extra="<address><postal_code>02101</postal_code><country>US</country></address>")),
     True),
    (customers(CUSTOMER.format(extra="<gender>Q</gender>")), False),
    (customers(CUSTOMER.format(extra="<date_of_birth>1990-02-30</date_of_birth>")), False),
    (customers('<customer><first_name>A</first_name><last_name>L</last_name><email>e</email>'
               "<signup_date>2024-01-02</signup_date></customer>"), False),  # id required
    (b"<customers/>", True),  # valid with zero records
    (b"", False),  # zero bytes
    (customers(CUSTOMER.format(extra="").replace("Ann", "Zoé"), decl='<?xml version="1.0" encoding="ISO-8859-1"?>')
     .decode().encode("latin-1"), True),  # a declared encoding
    (b"\xff\xfe" + customers(CUSTOMER.format(extra=""), decl="").decode().encode("utf-16-le"), True),  # UTF-16 BOM
])
def test_customer_details_contract(v, data, valid):
    report = check(v, "customer_details", data)
    assert report.valid is valid, report.errors


def _xml(encoding: str, declared: str | None, bom: bytes = b"") -> bytes:
    decl = "" if declared is None else f'<?xml version="1.0" encoding="{declared}"?>'
    return bom + customers(CUSTOMER.format(extra="").replace("Ann", "Zoé"), decl=decl).decode().encode(encoding)


_U16LE, _U16BE, _U8 = b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"


@pytest.mark.parametrize("data, valid", [
    pytest.param(_xml("utf-16-le", "UTF-8", _U16LE), False, id="utf16le-bom-declares-utf8"),
    pytest.param(_xml("utf-16-be", "UTF-8", _U16BE), False, id="utf16be-bom-declares-utf8"),
    pytest.param(_xml("utf-16-le", "ISO-8859-1", _U16LE), False, id="utf16-bom-declares-latin1"),
    pytest.param(_xml("utf-16-le", "UTF-16BE", _U16LE), False, id="utf16le-bom-declares-utf16be"),
    pytest.param(_xml("utf-16-le", "UTF-16", _U16LE), True, id="utf16le-bom-declares-utf16"),
    pytest.param(_xml("utf-16-be", "utf-16", _U16BE), True, id="utf16be-bom-declares-utf16"),
    pytest.param(_xml("utf-16-le", "UTF-16LE", _U16LE), True, id="utf16le-bom-declares-utf16le"),
    pytest.param(_xml("utf-16-le", None, _U16LE), True, id="utf16-bom-no-declaration"),
    pytest.param(_xml("utf-8", "UTF-16", _U8), False, id="utf8-bom-declares-utf16"),
    pytest.param(_xml("utf-8", "ISO-8859-1", _U8), False, id="utf8-bom-declares-latin1"),
    pytest.param(_xml("utf-8", "UTF-8", _U8), True, id="utf8-bom-declares-utf8"),
    pytest.param(_xml("utf-8", None, _U8), True, id="utf8-bom-no-declaration"),
    pytest.param(_xml("utf-16-le", "UTF-16"), False, id="utf16le-no-bom-declares-utf16"),
    pytest.param(_xml("utf-16-le", None), False, id="utf16le-no-bom-no-declaration"),
    pytest.param(_xml("utf-16-be", "UTF-16"), False, id="utf16be-no-bom-declares-utf16"),
    pytest.param(_xml("utf-8", "UTF-16"), False, id="8bit-bytes-declare-utf16"),
    pytest.param(_xml("latin-1", "ISO-8859-1"), True, id="latin1-declared"),
    pytest.param(_xml("utf-32", None), False, id="utf32-bom"),
])
def test_xml_bom_and_declared_encoding_must_agree(v, data, valid):
    report = check(v, "customer_details", data)
    assert report.valid is valid, report.errors
    if not valid:
        assert report.errors[0]["code"] == "encoding" and report.errors[0]["line"] == 1, report.errors


@pytest.mark.parametrize("text, valid", [
    (json.dumps([PURCHASE]), True),
    ("[]", True),
    ("\ufeff" + json.dumps([PURCHASE]), True),  # UTF-8 BOM tolerated
    (json.dumps([dict(PURCHASE, coupon="X")]), False),  # closed records
    (json.dumps([dict(PURCHASE, payment_method=None, channel=None)]), True),  # null for optional
    (json.dumps([dict(PURCHASE, payment_method="bitcoin")]), False),
    (json.dumps([dict(PURCHASE, items=[])]), False),
    (json.dumps([dict(PURCHASE, purchase_ts="2024-03-01 10:00")]), False),  # no offset
    ('[{"purchase_id": "P1", "purchase_id": "P2"}]', False),  # duplicate keys
    (json.dumps([dict(PURCHASE, total_amount=float("nan"))]), False),  # NaN
    (json.dumps([PURCHASE]).replace("3.0", "Infinity"), False),
    (json.dumps([PURCHASE]).replace("3.0", "1e400"), False),
    (json.dumps(PURCHASE), False),  # not an array
    (json.dumps([PURCHASE])[:-5], False),  # truncated
    (json.dumps([PURCHASE, PURCHASE]) + " x", False),  # trailing content
])
def test_purchases_json_array_contract(v, text, valid):
    report = check(v, "purchases", text.encode("utf-8"))
    assert report.valid is valid, report.errors


def test_json_lines_blank_lines_and_crlf(v):
    text = json.dumps(PURCHASE) + "\r\n\r\n" + json.dumps(dict(PURCHASE, purchase_id="P2")) + "\r\n"
    report = check(v, "purchases", text.encode(), "p.jsonl")
    assert report.valid and report.records == 2
    bad = json.dumps(PURCHASE) + "\n" + "{not json\n" + json.dumps(dict(PURCHASE, items="x")) + "\n"
    report = check(v, "purchases", bad.encode(), "p.ndjson")
    assert [(e["line"], e["code"]) for e in report.errors] == [(2, "not_json"), (3, "schema")]
    assert report.errors[1]["field"] == "items"
    assert not check(v, "purchases", json.dumps(PURCHASE).encode("utf-16"), "p.jsonl").valid  # JSON must be UTF-8


def test_a_large_json_array_is_decoded_across_chunks(v):
    records = [dict(PURCHASE, purchase_id=f"P{i}", store_id="x" * (i % 50)) for i in range(3000)]
    report = check(v, "purchases", json.dumps(records, indent=1).encode())
    assert report.valid and report.records == 3000


@pytest.mark.parametrize("text, valid", [
    (HEADER + "\nF1,C1,,2024-01-02,5,email,\"fine, \"\"really\"\"\nyes\"\n", True),
    (HEADER + "\r\nF1,C1,P1,2024-01-02,1,,ok\r\n\r\n", True),  # CRLF, empty lines ignored, empty channel
    ("\ufeff" + HEADER + "\nF1,C1,,2024-01-02,3,,\n", True),  # BOM
    (HEADER + "\n", True),  # header only
    ("feedback_id,customer_id,rating\nF1,C1,5\n", False),  # wrong header
    (HEADER.replace("comment", "Comment") + "\n", False),
    (HEADER + "\nF1,C1,,2024-01-02,5.0,email,x\n", False),  # rating 5.0
    (HEADER + "\nF1,C1,,2024-01-02, 5,email,x\n", False),  # rating ' 5'
    (HEADER + "\nF1,C1,,2024-01-02,6,email,x\n", False),
    (HEADER + "\nF1,C1,,2024-13-02,5,email,x\n", False),
    (HEADER + "\nF1,,,2024-01-02,5,email,x\n", False),  # customer_id required
    (HEADER + "\nF1,C1,,2024-01-02,5,email,x,extra\n", False),  # 8 fields
    (HEADER + "\nF1,C1,,2024-01-02,5," + "c" * 41 + ",x\n", False),  # channel > 40
    (HEADER + '\nF1,C1,,2024-01-02,5,email,"unterminated\n', False),
])
def test_feedback_csv_contract(v, text, valid):
    report = check(v, "feedback", text.encode("utf-8"))
    assert report.valid is valid, report.errors


R = "F1,C1,,2024-01-02,5,web,"  # a feedback row up to its comment


@pytest.mark.parametrize("text, valid", [
    pytest.param(HEADER + "\r" + R + "ok\r", False, id="cr-line-ends"),
    pytest.param(HEADER + "\r" + R + "ok", False, id="cr-line-ends-no-final"),
    pytest.param(HEADER + "\n" + R + "ok\r", False, id="cr-at-end-of-file"),
    pytest.param(HEADER + "\n" + R + "ok\r\r\n", False, id="cr-before-crlf"),
    pytest.param(HEADER + "\n" + R + "a\rb\n", False, id="cr-inside-unquoted-field"),
    pytest.param(HEADER + "\n" + R + '"ok"\r', False, id="cr-after-closing-quote-at-end"),
    pytest.param(HEADER + "\n" + R + '"ok"\r' + R + "x\n", False, id="cr-after-closing-quote"),
    pytest.param(HEADER + "\n" + R + "a\n" + R + "b\r\n" + R + "c\r\n\r\n" + R + "d\n", True, id="lf-and-crlf-mixed"),
    pytest.param(HEADER + "\r\n" + R + "a\r\n" + R + "b\n", True, id="crlf-then-lf"),
    pytest.param(HEADER + "\n" + R + '"a\rb"\n', True, id="cr-inside-quoted-field"),
    pytest.param(HEADER + "\n" + R + '"a\r\n\rb\n"\r\n', True, id="cr-and-crlf-inside-quoted-field"),
    pytest.param(HEADER + "\n" + R + 'he said "hi"\n', False, id="quote-in-unquoted-field"),
    pytest.param(HEADER + "\n" + 'F"1,C1,,2024-01-02,5,web,x\n', False, id="stray-quote-mid-field"),
    pytest.param(HEADER + "\n" + R + 'x"\n', False, id="quote-ending-unquoted-field"),
    pytest.param(HEADER + "\n" + R + ' "hi"\n', False, id="space-before-opening-quote"),
    pytest.param(HEADER + "\n" + R + '"abc"x\n', False, id="text-after-closing-quote"),
    pytest.param(HEADER + "\n" + 'F1,C1,,2024-01-02,5,"web" ,x\n', False, id="space-after-closing-quote"),
    pytest.param(HEADER + "\n" + R + '"a"b"\n', False, id="lone-quote-inside-quoted-field"),
    pytest.param(HEADER + "\n" + R + '"abc"', True, id="closing-quote-at-end-of-file"),
    pytest.param(HEADER + "\n" + R + '""""\n', True, id="field-of-one-doubled-quote"),
    pytest.param(HEADER + "\n" + R + '"a,""b""\n\nc"\n', True, id="quoted-comma-quotes-newlines"),
    pytest.param('\ufeff"feedback_id",customer_id,purchase_id,feedback_date,rating,channel,"comment"\r\n' + R
                 + '"x"\r\n', True, id="bom-then-quoted-header"),
])
def test_feedback_csv_line_ends_and_quotes(v, text, valid):
    report = check(v, "feedback", text.encode("utf-8"))
    assert report.valid is valid, report.errors
    if not valid:
        assert [(e["code"], e["line"]) for e in report.errors] == [("not_csv", 2 if "\n" in text else 1)]


@pytest.mark.parametrize("comment", [
    pytest.param('"' + 'quoted, with ""quotes"" and\nnewlines. ' * 150_000 + '"', id="quoted-6MB"),
    pytest.param("x" * 3_000_000, id="unquoted-3MB"),
])
def test_a_comment_of_megabytes_is_one_field(v, comment):
    data = (HEADER + "\n" + R + comment + "\n" + R + "short\n").encode()
    report = check(v, "feedback", data)
    assert report.valid and report.records == 2, report.errors
    rows = [row for _, row in v.read_csv_rows(io.BufferedReader(io.BytesIO(data)))]
    expected = comment[1:-1].replace('""', '"') if comment.startswith('"') else comment
    assert rows[1][6] == expected and rows[2][6] == "short"


def test_a_syntax_error_is_reported_at_its_line_after_the_rows_before_it(v):
    rows = [f'F{i},C1,,2024-01-02,5,web,"fine, really"' for i in range(4000)]  # several chunks
    rows[9] = "F9,C1,,2024-01-02,9,web,x"
    rows[3000] = 'F3000,C1,,2024-01-02,5,web,"a\nb\r\nc'  # opens a quoted field over three lines ...
    rows[3001] = 'F3001,C1,,2024-01-02,5,web,he said "hi"'  # ... that this line's first quote closes: 'h'
    report = check(v, "feedback", (HEADER + "\n" + "\n".join(rows) + "\n").encode())
    assert [(e["code"], e["line"]) for e in report.errors] == [("type", 11), ("not_csv", 3005)]
    assert report.records == 3000
    assert "after the closing quote" in report.errors[1]["message"]


def _rfc4180(text: str):
    """Reference reader, one character at a time: the records of `text` under RFC 4180 with LF or CRLF line ends
    (empty lines skipped), or the line where the text breaks the grammar (an unclosed field: the line it opened)."""
    records, row, field, state, seen, line, opened = [], [], [], "start", False, 1, 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if state == "quoted":
            if c == '"':
                state = "quote"
            else:
                field.append(c)
        elif state == "quote" and c == '"':
            field.append(c)
            state = "quoted"
        elif c == '"':
            if state != "start":
                return line
            state, seen, opened = "quoted", True, line
        elif c == ",":
            row.append("".join(field))
            field, state, seen = [], "start", True
        elif c in "\r\n":
            if c == "\r":
                if text[i + 1:i + 2] != "\n":
                    return line
                i += 1
            if seen or field:
                records.append(row + ["".join(field)])
            row, field, state, seen = [], [], "start", False
        elif state == "quote":
            return line
        else:
            field.append(c)
            state, seen = "unquoted", True
        if text[i] == "\n":
            line += 1
        i += 1
    if state == "quoted":
        return opened
    if seen or field:
        records.append(row + ["".join(field)])
    return records


def test_csv_reading_agrees_with_a_reference_reader_at_any_chunk_size(v, monkeypatch):
    import csv
    import random

    rng = random.Random(4180)
    tokens = ["a", "é", ",", '"', '""', "\r\n", "\n", "\r", " "]
    texts = []
    for _ in range(400):  # text of the grammar's pieces at random: mostly invalid
        texts.append("".join(rng.choice(tokens) for _ in range(rng.randrange(1, 30))))
    for _ in range(400):  # files a CSV writer made: valid, quoted fields with every special character
        out = io.StringIO(newline="")
        for _ in range(rng.randrange(1, 6)):
            w = csv.writer(out, lineterminator=rng.choice(["\n", "\r\n"]))
            w.writerow(["".join(rng.choice(tokens) for _ in range(rng.randrange(0, 5))) for _ in range(3)])
        texts.append(out.getvalue()[:None if rng.random() < 0.8 else -1])
    counts = {"valid": 0, "invalid": 0}
    for size in (1, 2, 3, 5, 8, 64):
        monkeypatch.setattr(v, "CHUNK", size)
        for text in texts:
            data = text.encode()
            expected = _rfc4180(text)
            try:
                got = [row for _, row in v.read_csv_rows(io.BytesIO(data))]
            except v.CsvSyntaxError as e:
                got = e.line
            assert got == expected, (size, text)
            counts["valid" if isinstance(expected, list) else "invalid"] += 1
    assert counts["valid"] > 1500 and counts["invalid"] > 1500


def test_csv_must_be_utf8(v):
    data = (HEADER + "\nF1,C1,,2024-01-02,5,email,très bien\n").encode("latin-1")
    report = check(v, "feedback", data)
    assert codes(report) == {"encoding"}


@pytest.mark.parametrize("dataset, data", [("feedback", b"<customers/>"), ("purchases", b"a,b\n1,2\n"),
                                           ("customer_details", b"[]")])
def test_content_must_match_the_format_of_the_key(v, dataset, data):
    assert codes(check(v, dataset, data)) == {"format_mismatch"}


def test_errors_are_capped_but_counted(v):
    rows = "".join(f"F{i},C1,,2024-01-02,9,email,x\n" for i in range(250))
    report = check(v, "feedback", (HEADER + "\n" + rows).encode())
    assert report.error_count == 250 and len(report.errors) == 100
    assert report.as_dict()["errors_truncated"] is True
    assert report.errors[0] == {"code": "type", "message": "rating '9' is not a whole number from 1 to 5", "line": 2,
                                "record": 1, "field": "rating"}


def test_reads_from_anything_with_read(v):
    class OnlyRead:  # like botocore's StreamingBody
        def __init__(self, data):
            self.buf = io.BytesIO(data)

        def read(self, n=-1):
            return self.buf.read(n)

    report = v.validate(OnlyRead(customers(CUSTOMER.format(extra=""))), "customer_details", "xml", "c.xml")
    assert report.valid and report.records == 1


def test_validation_runs_in_a_thread_too(v):
    result = []
    t = threading.Thread(target=lambda: result.append(check(v, "customer_details", b"<customers/>").valid))
    t.start()
    t.join()
    assert result == [True]


# ------------------------------------------------------------------ fast paths never accept more than the exact ones
def _detailed_xml(v, data: bytes):
    """The detailed XML pass alone: a source without seek() gets no fast pass."""
    class OnlyRead:
        def __init__(self, data):
            self.f = io.BytesIO(data)

        def read(self, n=-1):
            return self.f.read(n)
    return v.validate(OnlyRead(data), "customer_details", "xml", "c.xml")


def _xml_inputs(generated, tmp_path):
    out, manifest = generated
    for f in manifest["files"]:
        if f["path"].endswith(".xml"):
            yield f["path"], (out / f["path"]).read_bytes()
    for p in _corpus_files():
        yield p.name, p.read_bytes()
    with zipfile.ZipFile(CORPORA / "xmltest-jclark" / "xmltest.zip") as z:
        z.extractall(tmp_path)
    for p in sorted((tmp_path / "xmltest").rglob("*.xml")):
        yield str(p.relative_to(tmp_path)), p.read_bytes()
    good = customers(*(CUSTOMER.replace('"C1"', f'"C{i}"').format(extra="<gender>F</gender>") for i in range(3)))
    for cut in range(1, len(good)):  # every truncation of a valid document
        yield f"cut{cut}", good[:cut]
    for i, byte in enumerate(good):  # every single-character breakage
        if chr(byte) in "<>/&\"=":
            yield f"drop{i}", good[:i] + good[i + 1:]
            yield f"amp{i}", good[:i] + b"&" + good[i + 1:]
    yield "xsi-attr", good.replace(b"<customers>", b'<customers xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                                                  b' xsi:noNamespaceSchemaLocation="x.xsd">')
    yield "entity-ref", good.replace(b"Ann", b"&lt;Ann&#65;")


def test_xml_fast_pass_accepts_only_what_the_detailed_pass_accepts(v, generated, tmp_path):
    accepted = refused = 0
    for name, data in _xml_inputs(generated, tmp_path):
        report = check(v, "customer_details", data)  # seekable: fast pass first
        detailed = _detailed_xml(v, data)
        assert report.valid == detailed.valid, name
        fast = v.Report("customer_details", "xml")
        if v.prolog(data[:v.CHUNK], "utf-8") == "clear" and v.xml_fast_pass(io.BytesIO(data), fast):
            assert detailed.valid and fast.records == detailed.records, name
            accepted += 1
        else:
            refused += 1
    assert accepted >= 3 and refused > 1000  # the valid generated files took the fast pass


def test_purchase_fast_check_accepts_only_what_the_json_schema_accepts(v):
    import fastjsonschema

    exact = v.purchase_validator()
    item = PURCHASE["items"][0]
    values = [None, True, 0, -1, 1, 2.5, 1e300, 10**30, "", "x", "x" * 65, "USD", "usd", "2024-03-01T10:00:00Z",
              "2024-13-01T10:00:00Z", "2024-03-01T10:00:00Z\n", "2024-03-01T10:00:00.1234567890+01:00", [], [item],
              {}, "card", "web"]
    fields = [*PURCHASE, "payment_method", "channel", "store_id", "coupon"]
    checked = 0
    for field in fields:
        for value in values:
            for target in ("record", "item"):
                rec = json.loads(json.dumps(PURCHASE))
                if target == "record":
                    rec[field] = value
                elif field in ("purchase_id", "customer_id", "currency"):
                    continue
                else:
                    rec["items"][0][{"purchase_ts": "sku", "total_amount": "unit_price", "items": "quantity",
                                     "store_id": "product_name", "coupon": "category"}.get(field, field)] = value
                if v._fast_ok(rec):
                    exact(rec)  # raises if the fast check accepted a record the schema refuses
                else:
                    try:
                        exact(rec)
                    except fastjsonschema.JsonSchemaValueException:
                        pass
                checked += 1
    assert checked > 300
