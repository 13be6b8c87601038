"""Incremental runs equal a full refresh (exported_jobs/etl_state.py, from 20_glue_etl).

Generated files with duplicate persons, newer versions, exact duplicates, record defects (conflicting ids, unknown
customers and purchases) are fed to the job in folder mode, in random batchings and orders: late references and
cross-file merges come from the orders. After a feed, a full refresh of the same files into another folder is the
reference: every curated table must hold the same rows (`bucket`, `updated_at` and `scored_run_id`, which say where
and when a row was written or scored, aside), and each file's DQ results, as its latest judgment left them, must
equal the full refresh's. `make test` runs one random batching, then a run with nothing new; the reliability suite
(`make test-reliability`) feeds files one at a time in several orders, rebuilds an uncommitted state and checks the
large-batch fallback.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import pytest

NOW = "2026-07-01T00:00:00+00:00"
PROBABILISTIC = ("--identity", "probabilistic")
TABLES = ("customers", "purchases", "purchase_items", "feedback", "customer360_golden", "retired_customer_ids",
          "rejects", "identity_links", "golden_provenance", "identity_review")
WHEN = ("bucket", "updated_at", "scored_run_id", "source_run_id")  # where and when a row was written, scored, read


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> list[Path]:
    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    out = tmp_path_factory.mktemp("incremental-gen")
    params = Params(seed=23, customers=200, purchases=700, feedback=260, files=2, bad_files=0, defect_rate=0.08,
                    duplicate_person_rate=0.15, exact_duplicate_rate=0.03, update_rate=0.06)
    manifest = generate(params, out, progress=False)
    folder = validated_copy(out, manifest, out / "validated")
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def realistic(tmp_path_factory) -> list[Path]:
    """Duplicates that only the probabilistic model links (--identity-noise realistic), with the other defects."""
    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    out = tmp_path_factory.mktemp("incremental-realistic")
    params = Params(seed=31, customers=300, purchases=600, feedback=200, files=3, bad_files=0, defect_rate=0.05,
                    duplicate_person_rate=0.2, exact_duplicate_rate=0.02, update_rate=0.05,
                    identity_noise="realistic")
    manifest = generate(params, out, progress=False)
    folder = validated_copy(out, manifest, out / "validated")
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


class Feeder:
    """Copies files into an input folder feed by feed and runs the job incrementally after each feed."""

    def __init__(self, etl, spark, root: Path, work: Path, source: Path, *extra: str):
        self.etl, self.spark, self.root, self.source, self.extra = etl, spark, root, source, extra
        self.input, self.output = work / "in", work / "incremental"
        self.results: dict[str, dict] = {}  # file -> its DQ results as the latest run that judged it left them
        self.summaries: list[dict] = []

    def args(self, output: Path, *extra: str) -> dict[str, str]:
        return self.etl.parse_job_args(["--ledger_table", "", "--input_root", f"{self.input}/", "--output_root",
                                        f"{output}/", "--rules_root", f"{self.root / 'schemas'}/", "--now", NOW,
                                        "--incremental", "true", *self.extra, *extra])

    def feed(self, files: list[Path]) -> dict:
        for p in files:
            dest = self.input / p.relative_to(self.source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest)
        summary = self.etl.run(self.spark, self.args(self.output))
        self.summaries.append(summary)
        for r in self.spark.read.parquet(f"{self.output}/curated/dq_results").collect():
            self.results[r.path] = json.loads(r.result)
        return summary

    def tables(self) -> dict[str, list]:
        """Every curated table's rows, sorted, without the time they were written."""
        return {t: sorted(self.spark.read.parquet(f"{self.output}/curated/{t}").drop("updated_at").collect())
                for t in TABLES}

    def assert_equals_full_refresh(self, reference: Path) -> None:
        shutil.rmtree(reference, ignore_errors=True)
        summary = self.etl.run(self.spark, self.args(reference, "--full_refresh", "true"))
        assert summary["mode"] == "full refresh" and summary["reason"] == "asked"
        full = {r.path: json.loads(r.result) for r in
                self.spark.read.parquet(f"{reference}/curated/dq_results").collect()}
        assert set(full) == set(self.results)
        for path in sorted(full):
            assert self.results[path] == full[path], path
        for table in TABLES:
            got = self.spark.read.parquet(f"{self.output}/curated/{table}").drop(*WHEN)
            want = self.spark.read.parquet(f"{reference}/curated/{table}").drop(*WHEN)
            extra, missing = got.exceptAll(want), want.exceptAll(got)
            # on a difference, the rows themselves: a rare one must be diagnosable from the CI log alone
            assert (got.count(), extra.count(), missing.count()) == (want.count(), 0, 0), \
                f"{table}: only incremental {extra.limit(5).collect()} · only full refresh {missing.limit(5).collect()}"


def batches(files: list[Path], rng: random.Random, sizes: tuple[int, ...]) -> list[list[Path]]:
    order = files[:]
    rng.shuffle(order)
    out, i = [], 0
    while i < len(order):
        n = rng.choice(sizes)
        out.append(order[i:i + n])
        i += n
    return out


def test_random_batches_equal_a_full_refresh_then_nothing_new_changes_nothing(etl, spark, root, validated,
                                                                               tmp_path):
    feeder = Feeder(etl, spark, root, tmp_path, validated[0].parent.parent)
    feeds = batches(validated, random.Random(5), (2, 3, 4))
    for i, feed in enumerate(feeds):
        summary = feeder.feed(feed)
        assert summary["mode"] == ("full refresh" if i == 0 else "incremental"), summary
        assert summary["new_files"] == len(feed)
    feeder.assert_equals_full_refresh(tmp_path / "full")  # the reliability suite compares after every feed
    golden = spark.read.parquet(f"{feeder.output}/curated/customer360_golden")
    assert golden.count() > 100 and golden.where("size(source_customer_ids) > 1").count() > 0  # merges happened
    assert spark.read.parquet(f"{feeder.output}/curated/retired_customer_ids").count() > 0  # and retired ids

    before = feeder.tables()
    summary = feeder.feed([])
    assert summary["mode"] == "incremental" and summary["new_files"] == 0 and summary["files_judged"] == 0
    assert summary["buckets_rewritten"] == 0
    assert feeder.tables() == before
    assert spark.read.parquet(f"{feeder.output}/curated/dq_results").count() == 0  # no file's results were read


@pytest.mark.reliability  # a third full refresh (20 s): the reliability suite
def test_an_uncommitted_state_is_rebuilt_by_a_full_refresh(etl, spark, root, validated, tmp_path):
    feeder = Feeder(etl, spark, root, tmp_path, validated[0].parent.parent)
    feeder.feed(validated)
    before = feeder.tables()
    # a run stopped while writing leaves the manifest uncommitted: the next run rebuilds everything
    manifest = feeder.output / "curated" / "_state" / "manifest.json"
    manifest.write_text(json.dumps(dict(json.loads(manifest.read_text()), committed=False)))
    summary = feeder.feed([])
    assert summary["mode"] == "full refresh" and summary["reason"].startswith("uncommitted state")
    assert json.loads(manifest.read_text())["committed"] is True
    assert feeder.tables() == before


@pytest.mark.reliability
def test_a_batch_too_large_for_the_driver_makes_a_full_refresh(etl, spark, root, validated, tmp_path, monkeypatch):
    feeder = Feeder(etl, spark, root, tmp_path, validated[0].parent.parent)
    feeder.feed(validated[:-1])
    monkeypatch.setattr(sys.modules["etl_state"], "SMALL_CLOSURE", 5)  # a batch too large to look up on the driver
    summary = feeder.feed(validated[-1:])
    assert summary["mode"] == "full refresh" and summary["reason"].startswith("a large batch"), summary
    assert summary["new_files"] == len(validated)


@pytest.mark.reliability
@pytest.mark.parametrize("seed", [11, 12])
def test_one_file_at_a_time_equals_a_full_refresh_after_each_feed(etl, spark, root, validated, tmp_path, seed):
    feeder = Feeder(etl, spark, root, tmp_path, validated[0].parent.parent)
    for i, feed in enumerate(batches(validated, random.Random(seed), (1,))):
        feeder.feed(feed)
        feeder.assert_equals_full_refresh(tmp_path / f"full{i}")


@pytest.mark.parametrize("driver_edges", [50_000_000, 0])
def test_a_large_batch_finds_the_components_a_small_one_finds(etl, spark, root, validated, monkeypatch,
                                                               driver_edges):
    """Past SMALL_CLOSURE link keys the components come from `components`: numpy on the driver (hashed ids), or
    beyond DRIVER_EDGES Spark rounds. Both give each record the component union-find gives it."""
    state = sys.modules["etl_state"]
    monkeypatch.setattr(state, "DRIVER_EDGES", driver_edges)
    files = [etl.InputFile(str(p), p.parent.name, etl.file_format(str(p)), n) for n, p in enumerate(validated)]
    rules = {ds: etl.parse_ruleset((root / "schemas" / f"{ds}.dqdl").read_text()) for ds in etl.DATASETS}
    raw = state.with_rid(etl.read_raw(spark, files))
    keys = state.edges_of(state.with_keys(raw, rules, etl.load_rates(spark, f"{root / 'schemas'}/"))).localCheckpoint()
    want = state.union_find([(r._rid, r.key) for r in keys.collect()])
    got = {r._rid: r._cid for r in state.components(raw, keys).collect()}
    assert got == want
    assert len(set(want.values())) < len(want)  # records were linked


@pytest.mark.parametrize("inline", [10_000, 0])
def test_where_in_filters_inline_or_by_a_broadcast_join_alike(etl, spark, monkeypatch, inline):
    """`where_in` tests membership as a filter in the plan up to INLINE_VALUES values, past it by a join with a
    frame of the values: both keep (or drop) the same rows."""
    state = sys.modules["etl_state"]
    monkeypatch.setattr(state, "INLINE_VALUES", inline)
    df = etl.local_frame(spark, [(f"c{i}", i) for i in range(20)], "_cid string, n int")
    wanted = ["c3", "c7", "c7", "c19", "not-there"]
    assert sorted(r.n for r in state.where_in(df, "_cid", wanted).collect()) == [3, 7, 19]
    assert sorted(r.n for r in state.where_in(df, "_cid", wanted, inside=False).collect()) == \
        [i for i in range(20) if i not in (3, 7, 19)]
    assert state.where_in(df, "_cid", []).count() == 0
    assert state.where_in(df, "_cid", [], inside=False).count() == 20


def test_local_frame_keeps_rows_types_and_nulls_and_makes_empty_frames(etl, spark):
    schema = "path string, n long, ok boolean"
    rows = [("a", 1, True), ("b", None, False), (None, 3, None)]
    df = etl.local_frame(spark, rows, schema)
    assert [tuple(r) for r in df.collect()] == rows
    assert df.schema.simpleString() == "struct<path:string,n:bigint,ok:boolean>"
    empty = etl.local_frame(spark, [], schema)
    assert empty.count() == 0 and empty.schema == df.schema
    with pytest.raises(ValueError):  # a row of another length is an error, not a silently shorter frame
        etl.local_frame(spark, [("a", 1, True), ("b", 2)], schema)


def review_queue(spark, output: Path) -> set[tuple[str, str]]:
    """The pairs waiting for review, as `c360 identity review` asks the database: both records of the pair current
    (a row each in identity_review) and in two golden customers."""
    halves: dict[str, list] = {}
    for r in spark.read.parquet(f"{output}/curated/identity_review").collect():
        halves.setdefault(r.pair_id, []).append(r)
    return {tuple(sorted(h.source_customer_id for h in rows)) for rows in halves.values()
            if len(rows) == 2 and rows[0].customer_id != rows[1].customer_id}


UNSURE = """<?xml version="1.0" encoding="UTF-8"?>
<customers>
{}
</customers>
"""
PERSON = """  <customer id="{id}"><first_name>{first}</first_name><last_name>{last}</last_name><email>{email}</email>
    <date_of_birth>{dob}</date_of_birth><address><postal_code>{postcode}</postal_code><country>US</country></address>
    <signup_date>2020-01-01</signup_date>
  </customer>"""


def unsure_pairs(folder: Path, name: str, people: list[dict]) -> None:
    """A customer file: pairs of records with the same name and postal code, other birth dates and e-mails, which
    the model scores between the review and the match thresholds."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(UNSURE.format("\n".join(PERSON.format(**p) for p in people)))


@pytest.mark.reliability  # 137 s: make test keeps the decisions' unit tests and the deployed job's review flow
def test_probabilistic_links_and_review_decisions_of_two_feeds_equal_a_full_refresh(etl, spark, root, realistic,
                                                                                    tmp_path):
    """Half the files; then a reviewer accepts a pair of the review
    queue and rejects one of it and a pair the model linked (the next run, a full refresh, applies them); then the
    other half, incremental, with a newer version of an accepted record, keeps them."""
    feeder = Feeder(etl, spark, root, tmp_path, realistic[0].parent.parent, *PROBABILISTIC)
    people = [dict(id=f"REV-{n}{i}", first=first, last=last, email=email, dob=f"19{70 + i}-0{5 + i}-0{5 + i}",
                   postcode=postcode)
              for n, (first, last, postcode, emails) in enumerate((
                  ("John", "Brown", "10001", ("jb@mail.com", "jbrown@example.org")),
                  ("Mary", "Smith", "20002", ("msmith@mail.com", "mary.s@example.org"))))
              for i, email in enumerate(emails)]
    unsure_pairs(feeder.input / "customer_details", "customers_0000_unsure.xml", people)
    order = realistic[:]
    random.Random(8).shuffle(order)
    assert feeder.feed(order[:len(order) // 2])["mode"] == "full refresh"
    queue = review_queue(spark, feeder.output)
    assert {("REV-00", "REV-01"), ("REV-10", "REV-11")} <= queue
    golden = spark.read.parquet(f"{feeder.output}/curated/customer360_golden")
    twos = {tuple(sorted(g.source_customer_ids)) for g in golden.where("size(source_customer_ids) = 2").collect()}
    by_model = {(r.source_customer_id_a, r.source_customer_id_b) for r in spark.read.parquet(
        f"{feeder.output}/curated/identity_links").where("linked_by = 'model'").collect()}
    unlink = min(by_model & twos)  # a golden customer the model alone made of two records
    accept, reject = ("REV-00", "REV-01"), ("REV-10", "REV-11")
    folder = feeder.input / "review" / "decisions"  # the job's --decisions_root default, under its input root
    folder.mkdir(parents=True)
    for name, (a, b), decision in (("1.json", accept, "accept"), ("2.json", reject, "reject"),
                                   ("3.json", unlink, "reject")):
        (folder / name).write_text(json.dumps({"a": b, "b": a, "decision": decision, "reviewer": "test",
                                               "decided_at": "2026-07-01T00:00:00+00:00"}))

    def check() -> dict[str, str]:
        ids = {r.source_customer_id: r.customer_id
               for r in spark.read.parquet(f"{feeder.output}/curated/customers").collect()}
        links = {(r.source_customer_id_a, r.source_customer_id_b, r.linked_by)
                 for r in spark.read.parquet(f"{feeder.output}/curated/identity_links").collect()}
        assert ids[accept[0]] == ids[accept[1]] and (*accept, "review") in links
        assert ids[reject[0]] != ids[reject[1]]
        assert (*unlink, "model") not in links
        assert not {accept, reject, unlink} & review_queue(spark, feeder.output)
        return ids
    summary = feeder.feed([])
    assert summary["mode"] == "full refresh" and summary["reason"] == "rules, rates or options changed"
    ids = check()
    assert ids[unlink[0]] != ids[unlink[1]]  # the model alone had joined them
    newer = dict(people[1], email="john.brown.new@example.org")  # a newer version of an accepted record
    unsure_pairs(feeder.input / "customer_details", "customers_0009_unsure.xml", [newer])
    assert feeder.feed(order[len(order) // 2:])["mode"] == "incremental"
    check()
    feeder.assert_equals_full_refresh(tmp_path / "full")
    links = spark.read.parquet(f"{feeder.output}/curated/identity_links")
    assert links.where("linked_by = 'model'").count() > links.where("linked_by != 'model'").count() > 0


@pytest.mark.reliability
def test_probabilistic_links_of_incremental_runs_equal_a_full_refresh(etl, spark, root, realistic, tmp_path):
    """Each customer file is scored against the records its blocking keys find (the blocking index), never the
    whole history; the links, hence the identities and every table, equal a full refresh's."""
    feeder = Feeder(etl, spark, root, tmp_path, realistic[0].parent.parent, *PROBABILISTIC)
    feeds = batches(realistic, random.Random(3), (1, 2, 3))
    for i, feed in enumerate(feeds):
        summary = feeder.feed(feed)
        assert summary["mode"] == ("full refresh" if i == 0 else "incremental"), summary
    feeder.assert_equals_full_refresh(tmp_path / "full")
    golden = spark.read.parquet(f"{feeder.output}/curated/customer360_golden")
    merged = golden.where("size(source_customer_ids) > 1").count()
    keys = Feeder(etl, spark, root, tmp_path / "keys", realistic[0].parent.parent)
    keys.feed(realistic)
    by_keys = spark.read.parquet(f"{keys.output}/curated/customer360_golden")
    assert merged > 2 * by_keys.where("size(source_customer_ids) > 1").count()  # the links merged persons
    # switching to match keys only (another fingerprint) rebuilds the state
    summary = keys.feed([])
    assert summary["mode"] == "incremental"
    again = Feeder(etl, spark, root, tmp_path, realistic[0].parent.parent)
    again.output = feeder.output
    summary = again.feed([])
    assert summary["mode"] == "full refresh" and summary["reason"] == "rules, rates or options changed"
