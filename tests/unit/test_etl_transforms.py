"""The Glue job's small functions on tiny frames, with one shared SparkSession (tests/conftest.py `spark`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _rules(etl, *lines: str):
    return etl.parse_ruleset("Rules = [\n" + ",\n".join(lines) + "\n]")


def _passes(etl, spark, rows, schema, rules, refs=None):
    df = spark.createDataFrame(rows, schema)
    out = etl.evaluate_rules(df, rules, refs or {}, NOW).orderBy("k").collect()
    return [[r[f"_rule_{i}"] for i in range(len(rules))] for r in out]


def test_parse_job_args(etl):
    args = etl.parse_job_args(["--bucket", "b", "--dq_threshold=75", "--JOB_RUN_ID", "jr_1"])
    assert args["bucket"] == "b" and args["dq_threshold"] == "75" and args["ledger_table"] == "Customer360_table"
    for bad in (["bucket", "b"], ["--bucket"], ["--"]):
        with pytest.raises(ValueError):
            etl.parse_job_args(bad)


def test_ruleset_annotations_and_errors(etl):
    rules = etl.parse_ruleset('# header\nRules = [\n  # @flag bad_mail null=email\n  ColumnValues "ok" = true,\n'
                              '  IsUnique "id"\n]')
    assert [(r.action, r.check, r.null) for r in rules] == [("flag", "bad_mail", "email"), ("reject", "rule_2", None)]
    with pytest.raises(ValueError, match="names the column"):
        etl.parse_ruleset('Rules = [\n # @flag x\n IsComplete "a"\n]')
    with pytest.raises(ValueError, match="not supported"):
        etl.parse_ruleset('Rules = [ Completeness "a" > 0.9 ]')
    with pytest.raises(ValueError, match="Rules"):
        etl.parse_ruleset('IsComplete "a"')


def test_every_shipped_ruleset_parses(etl, root):
    checks = {}
    for ds in etl.DATASETS:
        rules = etl.parse_ruleset((root / "schemas" / f"{ds}.dqdl").read_text())
        checks[ds] = {r.check: r.action for r in rules}
    assert checks["customer_details"] == {"invalid_email": "flag", "invalid_phone": "flag",
                                          "future_signup_date": "flag", "future_date_of_birth": "flag"}
    assert checks["purchases"]["unknown_customer"] == "reject" and checks["purchases"]["total_mismatch"] == "reject"
    assert checks["feedback"]["purchase_of_other_customer"] == "flag"


def test_shipped_rules_are_strict(etl, root):
    """No shipped rule passes with failing records: a ratio, where DQDL needs one, is `= 1.0`."""
    from decimal import Decimal

    for ds in etl.DATASETS:
        text = (root / "schemas" / f"{ds}.dqdl").read_text()
        for r in etl.parse_ruleset(text):
            assert r.threshold in (None, ("=", Decimal(1))), (ds, r.text)
            assert etl.rule_passed(r, 100_000, 1) is False and etl.rule_passed(r, 100_000, 0) is True, (ds, r.text)
        assert not [ln for ln in text.splitlines() if "threshold" in ln and not ln.lstrip().startswith("#")]


def test_column_values_follow_glue_null_semantics(etl, spark):
    rules = _rules(etl, 'ColumnValues "x" > 2', 'ColumnValues "x" != 3', 'ColumnValues "x" in [1, 3]',
                   'ColumnValues "x" not in [1, NULL]', '(ColumnValues "x" = NULL) or (ColumnValues "x" >= 3)',
                   'ColumnValues "x" between 1 and 2', 'IsComplete "x"', 'ColumnValues "s" matches "[a-c]+"')
    got = _passes(etl, spark, [(1, 1, "abc"), (2, 3, "abd"), (3, None, None)], "k int, x int, s string", rules)
    assert got == [[False, True, True, False, False, True, True, True],
                   [True, False, True, True, True, False, True, False],
                   [False, True, False, False, True, False, False, False]]


def test_now_and_dates(etl, spark):
    rules = _rules(etl, 'ColumnValues "d" <= now()', 'ColumnValues "d" > (now() - 30 days)')
    rows = [(1, date(2026, 1, 15)), (2, date(2026, 1, 16)), (3, date(2025, 12, 1))]
    assert _passes(etl, spark, rows, "k int, d date", rules) == [[True, True], [False, True], [True, False]]


def test_uniqueness_and_references(etl, spark):
    rules = _rules(etl, 'IsUnique "id"', 'ReferentialIntegrity "c" "customers.customer_id" = 1.0',
                   '(ColumnValues "c" = NULL) or (ReferentialIntegrity "c" "customers.customer_id" = 1.0)')
    refs = {"customers": spark.createDataFrame([("A",), ("B",)], "customer_id string")}
    rows = [(1, "p1", "A"), (2, "p1", "Z"), (3, "p2", None), (4, "p3", "B")]
    got = _passes(etl, spark, rows, "k int, id string, c string", rules, refs)
    assert got == [[False, True, True], [False, False, False], [True, False, True], [True, True, True]]
    with pytest.raises(ValueError, match="not given"):
        etl.evaluate_rules(spark.createDataFrame(rows, "k int, id string, c string"), rules, {}, NOW)


def test_actions_null_flagged_values_and_reject(etl, spark):
    rules = etl.parse_ruleset('Rules = [\n # @flag bad_email null=email\n ColumnValues "email_valid" = true,\n'
                              ' # @reject no_id\n IsComplete "id"\n]')
    df = spark.createDataFrame([(1, "a@b.co", True, "x"), (2, "nope", False, "y"), (3, "c@d.co", True, None)],
                               "k int, email string, email_valid boolean, id string")
    out = etl.apply_actions(etl.evaluate_rules(df, rules, {}, NOW), rules).orderBy("k").collect()
    assert [(r.email, r._rejected, list(r._errors)) for r in out] == [
        ("a@b.co", False, []), (None, False, ["bad_email"]), ("c@d.co", True, ["no_id"])]


def test_cleaning_customers(etl, spark):
    rows = [(" CRM-1 ", "  Ann   Marie ", "Lee", " Ann.Lee@Example.COM ", "(415) 555-2671", "1990-02-01", None,
             None, None, None, "02101", "us", "2024-01-02", "Gold", "1", 0, "f", 0)]
    schema = ("source_customer_id string, first_name string, last_name string, email string, phone string, "
              "date_of_birth string, gender string, street string, city string, state string, postal_code string, "
              "country string, signup_date string, loyalty_tier string, marketing_opt_in string, _pos long, "
              "_file string, _order int")
    r = etl.clean_customers(spark.createDataFrame(rows, schema)).collect()[0]
    assert (r.source_customer_id, r.first_name, r.email, r.email_valid) == ("CRM-1", "Ann Marie", "ann.lee@example.com",
                                                                            True)
    assert (r.phone_e164, r.phone_valid, r.postal_code, r.country) == ("+14155552671", True, "02101", "US")
    assert r.date_of_birth == date(1990, 2, 1) and r.marketing_opt_in is True


def test_exact_duplicates_and_latest_versions(etl, spark):
    df = spark.createDataFrame([("C1", "a", 0, 1), ("C1", "a", 0, 2), ("C1", "b", 1, 1), ("C2", "c", 0, 3)],
                               "source_customer_id string, v string, _order int, _pos long")
    marked = etl.mark_exact_duplicates(df)
    assert sorted((r.v, r._pos, r._dup) for r in marked.collect()) == [("a", 1, False), ("a", 2, True),
                                                                       ("b", 1, False), ("c", 3, False)]
    latest = etl.latest_versions(marked.where("not _dup"), "source_customer_id")
    assert {r.v: r._superseded for r in latest.collect()} == {"a": True, "b": False, "c": False}


def test_identity_resolution_is_transitive_and_order_free(etl, spark):
    rows = [("B", "x@y.co", True, None, None, date(2020, 1, 1), "Lee"),  # B-A by e-mail
            ("A", "x@y.co", True, "+14155552671", date(1980, 5, 5), date(2021, 1, 1), "Lee"),  # A-C: phone, birth,
            ("C", "other@y.co", True, "+14155552671", date(1980, 5, 5), date(2019, 1, 1), "Lea"),  # name sound
            ("D", "x@y.co", False, "+14155552671", None, date(2018, 1, 1), "Lee"),  # no valid e-mail, no birth date
            ("E", "e@y.co", True, "+14155552671", date(1980, 5, 5), date(2017, 1, 1), "Marks")]  # another name
    schema = ("source_customer_id string, email string, email_valid boolean, phone_e164 string, date_of_birth date, "
              "signup_date date, last_name string")
    ids = {r.source_customer_id: r.customer_id for r in etl.resolve_identities(spark.createDataFrame(rows, schema))
           .collect()}
    assert ids["A"] == ids["B"] == ids["C"] and len({ids["A"], ids["D"], ids["E"]}) == 3
    assert ids["A"] == "C360-" + __import__("hashlib").sha256(b"C").hexdigest()[:16].upper()  # earliest signup
    again = {r.source_customer_id: r.customer_id for r in etl.resolve_identities(
        spark.createDataFrame(list(reversed(rows)), schema)).collect()}
    assert again == ids


def test_a_merge_retires_an_id_and_records_where_it_points(etl, spark):
    """Two persons with golden ids of their own; a third record links them (its e-mail is one's, its phone, birth date
    and last name the other's): the merged person keeps the earliest member's id, the other id retires and points to
    it. The bridge never had an id of its own, and is mapped too (the table is a superset of the ids issued)."""
    from hashlib import sha256

    def own(source_id: str) -> str:
        return "C360-" + sha256(source_id.encode()).hexdigest()[:16].upper()

    schema = ("source_customer_id string, email string, email_valid boolean, phone_e164 string, date_of_birth date, "
              "signup_date date, last_name string")
    before = [("CRM-1", "x@y.co", True, None, None, date(2021, 1, 1), "Lee"),
              ("WEB-2", "w@y.co", True, "+14155552671", date(1980, 5, 5), date(2019, 1, 1), "Marks")]
    after = before + [("APP-3", "x@y.co", True, "+14155552671", date(1980, 5, 5), date(2022, 1, 1), "Marks")]

    def retired(rows):
        customers = spark.createDataFrame(rows, schema)
        ids = etl.resolve_identities(customers)
        return {r.retired_customer_id: r.customer_id for r in etl.retired_ids(customers.join(ids, "source_customer_id"))
                .collect()}, {r.customer_id for r in ids.collect()}
    table, issued = retired(before)
    assert table == {} and issued == {own("CRM-1"), own("WEB-2")}
    table, current = retired(after)
    assert current == {own("WEB-2")}  # the earliest signup names the merged person
    assert table == {own("CRM-1"): own("WEB-2"), own("APP-3"): own("WEB-2")}
    assert issued - current <= set(table)
    # state mode: the component is kept; a source id seen twice gives one row
    rows = [("CRM-1", own("WEB-2"), "c"), ("CRM-1", own("WEB-2"), "c"), ("WEB-2", own("WEB-2"), "c")]
    frame = spark.createDataFrame(rows, "source_customer_id string, customer_id string, _cid string")
    assert [tuple(r) for r in etl.retired_ids(frame).collect()] == [(own("CRM-1"), own("WEB-2"), "c")]


def test_pair_scores(etl):
    s = etl.pair_scores({"a": 1, "b": 1, "c": 1, "d": 2}, {"a": "p", "b": "p", "c": "q", "d": "q"})
    assert (s["pairs_found"], s["true_pairs"], s["correct"]) == (3, 2, 1)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == 0.5


def test_sentiment_labels_and_thresholds(etl):
    got = etl.sentiment(["I love it, great quality", "Terrible. Broke after a day.", "It arrived on Tuesday.", "",
                         None])
    assert [g[0] for g in got] == ["positive", "negative", "neutral", "neutral", "neutral"]
    assert got[0][1] >= 0.1 and got[1][1] <= -0.1 and got[3][1] == 0.0
    assert [g[0] for g in etl.sentiment(["I love it", "I hate it"], "vader")] == ["positive", "negative"]
    with pytest.raises(ValueError, match="analyzer"):
        etl.sentiment(["x"], "nltk")


def test_sentiment_udf_matches_the_plain_function(etl, spark):
    texts = ["great", "awful, never again", "ok", None]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "k int, comment string")
    got = [(r.sentiment_label, r.sentiment_score) for r in etl.add_sentiment(df).orderBy("k").collect()]
    assert got == etl.sentiment(texts)


def test_file_format(etl):
    assert [etl.file_format(n) for n in ("a.XML", "b.json", "c.NDJSON", "d.jsonl", "e.csv")] == \
        ["xml", "json", "jsonl", "jsonl", "csv"]
    with pytest.raises(ValueError):
        etl.file_format("f.txt")


def test_files_from_ledger_orders_by_arrival_and_skips_unfinished(etl):
    items = [
        {"record_id": "r2", "validation_status": "VALID", "moved": True, "destination": "validated/purchases/b.v2.json",
         "dataset": "purchases", "received_at": "2026-01-02T00:00:00Z", "source_key": "raw/purchases/b.json",
         "status": "PENDING", "record_count": 3},
        {"record_id": "r1", "validation_status": "VALID", "moved": True, "destination": "validated/feedback/a.v1.csv",
         "dataset": "feedback", "received_at": "2026-01-01T00:00:00Z", "source_key": "raw/feedback/a.csv",
         "status": "SUCCESS", "record_count": 1},
        {"record_id": "r3", "validation_status": "VALID", "moved": False, "destination": "validated/x", "dataset": "x"},
        {"record_id": "r4", "validation_status": "INVALID", "moved": True, "destination": "error/x"}]
    files = etl.files_from_ledger(items, "s3://lake/")
    assert [(f.record_id, f.order, f.path, f.fmt, f.expected_records) for f in files] == [
        ("r1", "2026-01-01T00:00:00Z|raw/feedback/a.csv|r1", "s3://lake/validated/feedback/a.v1.csv", "csv", 1),
        ("r2", "2026-01-02T00:00:00Z|raw/purchases/b.json|r2", "s3://lake/validated/purchases/b.v2.json", "json", 3)]


def test_a_count_mismatch_fails_loudly(etl, spark, tmp_path):
    (tmp_path / "feedback").mkdir()
    path = tmp_path / "feedback" / "f.csv"
    path.write_text("feedback_id,customer_id,purchase_id,feedback_date,rating,channel,comment\n"
                    'F1,C1,,2024-01-02,5,web,"two\nlines"\n')
    files = etl.files_from_folder(str(tmp_path))
    df = etl.read_dataset(spark, files, "feedback")
    assert etl.check_counts(df, files, "feedback") == {str(path): 1}
    files[0].expected_records = 2
    with pytest.raises(RuntimeError, match="differ"):
        etl.check_counts(df, files, "feedback")


def test_a_golden_id_stays_when_a_later_member_joins(etl, spark):
    schema = ("source_customer_id string, email string, email_valid boolean, phone_e164 string, date_of_birth date, "
              "signup_date date, last_name string")
    first = [("CRM-9", "a@b.co", True, None, None, date(2020, 1, 1), "Lee")]
    later = first + [("WEB-1", "a@b.co", True, None, None, date(2023, 6, 1), "Lee")]  # joins by e-mail, later
    before = {r.source_customer_id: r.customer_id for r in etl.resolve_identities(
        spark.createDataFrame(first, schema)).collect()}
    after = {r.source_customer_id: r.customer_id for r in etl.resolve_identities(
        spark.createDataFrame(later, schema)).collect()}
    assert after["CRM-9"] == after["WEB-1"] == before["CRM-9"]


def test_c360_sentiment_cli_uses_the_jobs_function(etl):
    import subprocess
    import sys

    texts = ["I love it", "awful, never again", "", "a chair"]
    run = subprocess.run([sys.executable, "-m", "c360.cli", "sentiment"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = [tuple(line.split("\t")) for line in run.stdout.splitlines()]
    assert got == [(label, str(score)) for label, score in etl.sentiment(texts)]
    bad = subprocess.run([sys.executable, "-m", "c360.cli", "sentiment", "--analyzer", "x"], input="a\n",
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "analyzer" in bad.stderr


def test_thresholds_decide_whether_a_rule_passes_for_a_file(etl):
    from decimal import Decimal

    rules = etl.parse_ruleset('Rules = [\n ColumnValues "x" > 0 with threshold >= 0.9,\n Uniqueness "id" > 0.5,\n'
                              ' ReferentialIntegrity "c" "customers.customer_id" = 1.0,\n IsComplete "x"\n]')
    assert [r.threshold for r in rules] == [(">=", Decimal("0.9")), (">", Decimal("0.5")), ("=", Decimal("1.0")),
                                            None]
    assert rules[1].tree == ("IsUnique", "id")  # judged row by row like IsUnique, passed by its ratio
    assert etl.rule_passed(rules[0], 10, 1) and not etl.rule_passed(rules[0], 10, 2)
    assert etl.rule_passed(rules[2], 5, 0) and not etl.rule_passed(rules[2], 5, 1)
    assert etl.rule_passed(rules[3], 0, 0) and not etl.rule_passed(rules[3], 10, 1)
    for bad in ('ColumnValues "x" > 0 with threshold != 0.9', 'IsComplete "x" extra'):
        with pytest.raises(ValueError):
            etl.parse_ruleset(f"Rules = [ {bad} ]")


def _feedback_file_results(etl, spark, rules, files: dict[str, tuple[int, int]]) -> dict[str, dict]:
    """file_results of feedback files that pass every shipped rule but uniqueness: per file (records, records
    holding a conflicting id, each such id held by two records); ids never repeat across files."""
    rows = []
    for name, (records, conflicting) in files.items():
        pairs = conflicting // 2  # ids held by two records each
        ids = [f"{name}-{n}" for n in range(records - pairs)] + [f"{name}-{n}" for n in range(pairs)]
        assert len(ids) == records and conflicting % 2 == 0
        rows += [(fid, "C1", None, date(2025, 1, 1), True, name, False) for fid in ids]
    df = spark.createDataFrame(rows, "feedback_id string, customer_id string, purchase_id string, feedback_date date, "
                                     "purchase_customer_matches boolean, _file string, _dup boolean")
    refs = {"customers": spark.createDataFrame([("C1",)], "customer_id string"),
            "purchases": spark.createDataFrame([("P1",)], "purchase_id string")}
    return etl.file_results(etl.apply_actions(etl.evaluate_rules(df, rules, refs, NOW), rules), rules)


def test_one_conflicting_id_fails_the_uniqueness_rule_in_a_large_file(etl, spark, root):
    rules = etl.parse_ruleset((root / "schemas" / "feedback.dqdl").read_text())
    r = _feedback_file_results(etl, spark, rules, {"big": (1000, 2)})["big"]
    outcome = {x["check"]: (x["failed_records"], x["passed"]) for x in r["rule_results"]}
    assert outcome["conflicting_duplicate_id"] == (2, False)  # 998 of 1,000 records pass: the rule fails
    assert [x["passed"] for x in r["rule_results"] if x["check"] != "conflicting_duplicate_id"] == [True] * 4
    assert (r["records"], r["error_count"], r["rules_passed"], r["rules_evaluated"]) == (1000, 2, 4, 5)
    assert r["dq_score"] == 80.0 and etl.file_status(r, 80.0) == "SUCCESS" and etl.file_status(r, 80.01) == "FAILED"


def test_the_score_does_not_depend_on_the_file_size(etl, spark, root):
    """10 records with conflicting ids among 998 or 1,002: the same failed rule, the same score (the old
    `Uniqueness >= 0.99` failed the first and passed the second)."""
    text = (root / "schemas" / "feedback.dqdl").read_text()
    files = {"a": (998, 10), "b": (1002, 10)}
    strict = _feedback_file_results(etl, spark, etl.parse_ruleset(text), files)
    assert [strict[f]["error_count"] for f in files] == [10, 10]
    assert [strict[f]["dq_score"] for f in files] == [80.0, 80.0]
    assert text.count('Uniqueness "feedback_id" = 1.0') == 1
    ratio = _feedback_file_results(etl, spark, etl.parse_ruleset(
        text.replace('Uniqueness "feedback_id" = 1.0', 'Uniqueness "feedback_id" >= 0.99')), files)
    assert [ratio[f]["dq_score"] for f in files] == [80.0, 100.0]  # 988 / 998 < 0.99 <= 992 / 1,002
    assert [ratio[f]["error_count"] for f in files] == [10, 10]  # the failing records are rejected either way


def test_a_rule_written_with_a_threshold_passes_by_its_ratio(etl, spark):
    rules = _rules(etl, 'ColumnValues "x" > 0 with threshold >= 0.9', 'ColumnValues "x" > 0',
                   'Uniqueness "id" > 0.5', 'IsUnique "id"')
    rows = [(n, f"id{n}", 1, "f9", False) for n in range(9)] + [(9, "id9", 0, "f9", False)]  # 9 of 10 pass x > 0
    rows += [(10 + n, f"id{10 + n}", 1 if n < 8 else 0, "f8", False) for n in range(10)]  # 8 of 10
    rows += [(20 + n, "dup" if n < 6 else f"id{20 + n}", 1, "u", False) for n in range(10)]  # 4 of 10 unique
    rows += [(30 + n, "twin" if n < 4 else f"id{30 + n}", 1, "v", False) for n in range(10)]  # 6 of 10 unique
    df = spark.createDataFrame(rows, "k int, id string, x int, _file string, _dup boolean")
    got = etl.file_results(etl.apply_actions(etl.evaluate_rules(df, rules, {}, NOW), rules), rules)
    passed = {f: [x["passed"] for x in r["rule_results"]] for f, r in got.items()}
    assert passed == {"f9": [True, False, True, True], "f8": [False, False, True, True],
                      "u": [True, True, False, False], "v": [True, True, True, False]}
    assert {f: r["dq_score"] for f, r in got.items()} == {"f9": 75.0, "f8": 50.0, "u": 50.0, "v": 75.0}
    assert {f: r["error_count"] for f, r in got.items()} == {"f9": 1, "f8": 2, "u": 6, "v": 4}
