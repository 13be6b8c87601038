"""Probabilistic identity matching (exported_jobs/etl_matching.py, from 20_glue_etl): match features, blocking keys,
the model file's checks and the shipped model applied on Spark to tiny frames (tests/conftest.py `spark`)."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest

CUSTOMER = ("source_customer_id string, first_name string, last_name string, email string, phone_e164 string, "
            "date_of_birth date, street string, city string, postal_code string, email_valid boolean, "
            "signup_date date, last_name_raw string")


def _customers(spark, rows):
    full = [(*r, True, date(2020, 1, 1), None) for r in rows]
    return spark.createDataFrame(full, CUSTOMER).drop("last_name_raw")


@pytest.fixture(scope="module")
def model(root):
    return json.loads((root / "schemas" / "identity_model.json").read_text())


def test_match_features_standardise_names_dates_and_contacts(etl, spark):
    df = _customers(spark, [
        ("a", "Bob", "Müller-Lüdenscheidt", "Bob.M@Example.com", "+14155550100", date(1980, 3, 7),
         " 1  Main  St ", "Köln", "50 667"),
        ("b", "Zoë", None, "not-an-email", None, date(1980, 3, 17), None, None, " "),
    ])
    f = {r.record_id: r for r in etl.with_nickname_groups(etl.match_features(df)).collect()}
    a, b = f["a"], f["b"]
    assert (a.first_name, a.last_name, a.city, a.postal_code) == ("bob", "mullerludenscheidt", "koln", "50667")
    assert a.name_pair == "bob|mullerludenscheidt" and a.street == "1 main st"
    assert (a.dob, a.dob_swapped) == ("1980-03-07", "1980-07-03")
    assert (b.dob, b.dob_swapped) == ("1980-03-17", None)  # no 17th month: nothing to swap
    assert a.email_local == "bob.m" and b.email_local is None and a.phone == "+14155550100"
    assert "robert" in a.first_name_group and "bob" in a.first_name_group
    assert b.first_name == "zoe" and b.first_name_group == ["zoe"] and b.name_pair is None and b.postal_code is None


def test_blocking_keys_need_every_column_of_a_rule(etl, spark):
    df = _customers(spark, [
        ("a", "Ann", "Lee", "x@y.com", None, date(1990, 1, 2), None, None, "N1"),
        ("b", "Ann", "Leigh", "z@y.com", None, date(1990, 1, 2), None, None, None),
        ("c", "Lee", "Ann", "q@y.com", None, None, None, None, None),
    ])
    keys = {}
    for r in etl.block_rows(etl.match_features(df)).select("record_id", "key").collect():
        keys.setdefault(r.record_id, set()).add(r.key)
    assert keys["a"] & keys["b"] == {"b2:ann|1990-01-02"}  # first name and date of birth
    assert "b0:ann|lee" in keys["a"] & keys["c"]  # swapped names: the same name pair
    assert not any(k.startswith(("b1:", "b2:")) for k in keys["c"])  # no date of birth: no rule that needs one
    assert all(k.split(":", 1)[0] in {f"b{i}" for i in range(len(etl.BLOCKING_RULES))} for s in keys.values()
               for k in s)


def test_model_file_is_checked(etl, model):
    assert etl.Matching.from_text(json.dumps(model), "0.9").threshold == 0.9
    with pytest.raises(ValueError, match="not found"):
        etl.Matching.from_text(None, "0.9", "s3://b/schemas/identity_model.json")
    with pytest.raises(ValueError, match="not JSON"):
        etl.Matching.from_text("{", "0.9")
    with pytest.raises(ValueError, match="not a trained Splink model"):
        etl.Matching.from_text("[]", "0.9")
    for bad in ("1", "0", "high", "-0.5"):
        with pytest.raises(ValueError, match="match_threshold"):
            etl.Matching.from_text(json.dumps(model), bad)
    other = json.loads(json.dumps(model))
    other["comparisons"][0]["comparison_levels"][1]["label_for_charts"] = "something else"
    with pytest.raises(ValueError, match="retrain"):
        etl.Matching.from_text(json.dumps(other), "0.9")
    fewer = dict(model, comparisons=model["comparisons"][:-1])
    with pytest.raises(ValueError, match="retrain"):
        etl.Matching.from_text(json.dumps(fewer), "0.9")
    for bad in ("0", "1.5", "low"):
        with pytest.raises(ValueError, match="review_threshold"):
            etl.Matching.from_text(json.dumps(model), "0.9", review_threshold=bad)
    with pytest.raises(ValueError, match="is above --match_threshold"):
        etl.Matching.from_text(json.dumps(model), "0.9", review_threshold="0.95")


def test_review_decisions_the_latest_stands_and_a_malformed_one_is_named(etl):
    got = etl.parse_decisions([
        {"a": "y", "b": "x", "decision": "reject", "decided_at": "2026-01-01T00:00:00Z"},
        {"a": "x", "b": "y", "decision": "accept", "decided_at": "2026-01-02T00:00:00Z"},
        {"a": "c", "b": "d", "decision": "reject", "decided_at": "2026-01-01T00:00:00Z"}])
    assert got == (("c", "d", "reject"), ("x", "y", "accept"))
    for bad in ({"a": "x", "b": "x", "decision": "accept"}, {"a": "x", "decision": "accept"},
                {"a": "x", "b": "y", "decision": "maybe"}):
        with pytest.raises(ValueError, match="review decision .*needs two different source ids"):
            etl.parse_decisions([bad])


def test_model_version_follows_the_trained_values(etl, model):
    assert etl.model_version(model) == etl.model_version(json.loads(json.dumps(model)))
    changed = json.loads(json.dumps(model))
    changed["probability_two_random_records_match"] *= 2
    assert etl.model_version(changed) != etl.model_version(model)


DUPLICATES = [
    # a nickname, a typo in the last name, another e-mail, no phone: no match key links these two
    ("p1", "Robert", "Johnson", "rjohnson@mail.com", "+14155550100", date(1975, 6, 14), "12 Oak Ave", "Springfield",
     "62704"),
    ("p2", "Bob", "Jonhson", "bobbyj77@other.net", None, date(1975, 6, 14), "12 Oak Ave", "Springfield", "62704"),
    # names swapped, day and month swapped
    ("q1", "Maria", "Garcia", "mg@mail.com", None, date(1988, 4, 9), "7 Elm St", "Austin", "73301"),
    ("q2", "Garcia", "Maria", "maria.g@x.org", None, date(1988, 9, 4), "7 Elm St", "Austin", "73301"),
]


def test_shipped_model_links_realistic_duplicates_and_explains_them(etl, spark, model):
    df = _customers(spark, [
        *DUPLICATES,
        # another person sharing a first name and a city
        ("r1", "Robert", "Smith", "rs@mail.com", None, date(1950, 1, 1), "99 Pine Rd", "Springfield", "62701"),
    ])
    pairs = {(r.record_id_l, r.record_id_r): r for r in
             etl.score_pairs(etl.match_features(df), model, 0.9).collect()}
    assert set(pairs) == {("p1", "p2"), ("q1", "q2")}
    names = [c["output_column_name"] for c in model["comparisons"]]
    prior = model["probability_two_random_records_match"]
    for r in pairs.values():  # the weights of the comparisons and the prior add up to the pair's match weight
        total = math.log2(prior / (1 - prior)) + sum(getattr(r, f"mw_{n}") for n in names)
        assert abs(total - r.match_weight) < 1e-9 and r.match_probability >= 0.9
    assert pairs[("q1", "q2")].mw_dob > 0  # day and month swapped still counts for the pair


def test_review_decisions_split_the_scored_pairs(etl, spark, model):
    """Pairs from the review threshold up to the match threshold wait for review; a rejected pair is never scored
    (so never linked) again, an accepted one leaves the queue and is a link by source ids."""
    df = _customers(spark, [
        *DUPLICATES,
        # the same name and postal code, other birth dates: likelier one person than not, not sure
        ("t1", "John", "Brown", "jb@mail.com", None, date(1970, 5, 5), None, None, "10001"),
        ("t2", "John", "Brown", "jbrown@x.com", None, date(1971, 6, 6), None, None, "10001"),
    ])

    def pairs(frame):
        return {(r.a, r.b) for r in frame.collect()}
    undecided = etl.Matching(model, 0.9, 0.5)
    scored = undecided.scored(df, "run-1").localCheckpoint()
    assert pairs(scored) == {("p1", "p2"), ("q1", "q2"), ("t1", "t2")}
    assert pairs(undecided.links(scored)) == {("p1", "p2"), ("q1", "q2")}
    assert pairs(undecided.for_review(scored)) == {("t1", "t2")}
    row = scored.where("a = 't1'").first()
    assert 0.5 <= row.match_probability < 0.9 and (row.a_src, row.b_src, row.scored_run_id) == ("t1", "t2", "run-1")

    decided = etl.Matching(model, 0.9, 0.5, etl.parse_decisions([
        {"a": "q2", "b": "q1", "decision": "reject"}, {"a": "t1", "b": "t2", "decision": "accept"}]))
    scored = decided.scored(df)
    assert pairs(scored) == {("p1", "p2"), ("t1", "t2")}  # the rejected pair is gone, for good
    assert pairs(decided.links(scored)) == {("p1", "p2")} and decided.for_review(scored).count() == 0
    assert pairs(decided.accepted(spark)) == {("t1", "t2")}
    assert decided.identity != undecided.identity  # decisions are in the state's fingerprint: a full refresh


def test_links_join_identities_transitively(etl, spark):
    customers = spark.createDataFrame([
        ("a", "a@x.com", True, None, None, date(2020, 1, 3), "A"),
        ("b", "b@x.com", True, None, None, date(2020, 1, 1), "B"),
        ("c", "c@x.com", True, None, None, date(2020, 1, 2), "C"),
        ("d", "d@x.com", True, None, None, date(2020, 1, 4), "D"),
    ], "source_customer_id string, email string, email_valid boolean, phone_e164 string, date_of_birth date, "
       "signup_date date, last_name string")
    links = spark.createDataFrame([("a", "c"), ("c", "b"), ("d", "gone")], "a string, b string")
    ids = {r.source_customer_id: r.customer_id for r in etl.resolve_identities(customers, links=links).collect()}
    from pyspark.sql import functions as F

    named_b = spark.range(1).select(etl.golden_id(F.lit("b"))).first()[0]  # b signed up first
    assert ids["a"] == ids["b"] == ids["c"] == named_b
    assert ids["d"] != ids["a"] and len(set(ids.values())) == 2  # a link to a record not among them links nothing
