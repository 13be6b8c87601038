"""The Glue job (exported_jobs/customer360_etl.py) on generated data, in folder mode with local Spark.

Its DQ counts must equal the generator's manifest exactly, its golden figures an independent computation from the
files (tests/etl_oracle.py), its identity resolution must reach the precision and recall the issue asks for, and a
second run over the same files must give the same outputs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from etl_oracle import expected
from job_runs import run_job


@pytest.fixture(scope="module")
def job(job_run, tmp_path_factory):
    """The session's job run (conftest) and a folder for a second run: (folder, first, second, summary, manifest)."""
    folder, first, summary, manifest, _ = job_run
    return folder, first, tmp_path_factory.mktemp("run2"), summary, manifest


def _frame(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / "curated" / name)


def _results(out: Path) -> dict[str, dict]:
    dq = _frame(out, "dq_results")
    return {Path(r.path).name: json.loads(r.result) for r in dq.itertuples()}


def test_dq_counts_equal_the_manifest(etl, job, root):
    _, out, _, summary, manifest = job
    results = _results(out)
    rules = {ds: etl.parse_ruleset((root / "schemas" / f"{ds}.dqdl").read_text()) for ds in etl.DATASETS}
    checked = 0
    for f in manifest["files"]:
        if f["role"] == "bad":
            continue
        r = results[Path(f["path"]).name]
        assert r["error_count"] == f["error_records"], f["path"]
        assert r.get("exact_duplicates", 0) == f["exact_duplicates"], f["path"]
        assert r.get("superseded", 0) == f["superseded"], f["path"]
        assert r["records"] == f["records"] - f["exact_duplicates"], f["path"]
        failed = {x["check"]: x["failed_records"] for x in r["rule_results"] if x["failed_records"]}
        defects = {k: v for k, v in f["defects"].items()
                   if k not in ("exact_duplicate", "superseded_version", "total_off_by_one_cent")}
        assert failed == defects, f["path"]
        # strict rules: a rule passes for the file exactly when the manifest puts none of its defect in the file
        checks = [x.check for x in rules[f["dataset"]]]
        assert [x["check"] for x in r["rule_results"]] == checks, f["path"]
        passed = [check not in defects for check in checks]
        assert [x["passed"] for x in r["rule_results"]] == passed, f["path"]
        assert r["dq_score"] == round(100 * sum(passed) / len(checks), 2), f["path"]
        checked += f["error_records"]
    assert checked > 400
    assert summary["failed_records"] == sum(f.get("error_records", 0) for f in manifest["files"] if f["role"] != "bad")


def test_identity_resolution_precision_and_recall(etl, job, generated):
    _, out, _, _, _ = job
    gen_out, _ = generated
    with open(gen_out / "ground_truth.csv", newline="") as fh:
        person = {r["source_customer_id"]: r["person_id"] for r in csv.DictReader(fh)}
    customers = _frame(out, "customers")
    scores = etl.pair_scores(dict(zip(customers.source_customer_id, customers.customer_id, strict=True)), person)
    assert scores["true_pairs"] >= 150
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.95, scores


def test_golden_figures_equal_an_independent_computation(job, job_run, root):
    folder, out, _, _, _ = job
    now = job_run[-1]
    golden = _frame(out, "customer360_golden")
    clusters = {src: row.customer_id for row in golden.itertuples() for src in row.source_customer_ids}
    assert len(clusters) == sum(len(s) for s in golden.source_customer_ids)  # every source id in one row only
    want = expected(folder, root / "schemas", clusters, now)
    assert set(want) == set(golden.customer_id)
    columns = ["order_count", "total_spend", "avg_order_value", "first_purchase_at", "last_purchase_at",
               "feedback_count", "avg_rating", "positive_feedback", "neutral_feedback", "negative_feedback", "dq_score"]
    mismatches = []
    for row in golden.itertuples():
        got = {c: getattr(row, c) for c in columns}
        got = {c: (None if pd.isna(v) else v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
               for c, v in got.items()}
        if got != want[row.customer_id]:
            mismatches.append((row.customer_id, got, want[row.customer_id]))
    assert not mismatches, mismatches[:3]
    assert golden.order_count.sum() > 4000 and golden.feedback_count.sum() > 1500


def test_every_record_is_accounted_for(job):
    _, out, _, _, manifest = job
    results = _results(out)
    rejects = _frame(out, "rejects")
    for dataset, curated in (("customer_details", "customers"), ("purchases", "purchases"), ("feedback", "feedback")):
        files = [f for f in manifest["files"] if f["dataset"] == dataset and f["role"] != "bad"]
        read = sum(f["records"] for f in files)
        dups = sum(results[Path(f["path"]).name].get("exact_duplicates", 0) for f in files)
        superseded = sum(results[Path(f["path"]).name].get("superseded", 0) for f in files)
        kept = len(_frame(out, curated)) + (rejects.dataset == dataset).sum()
        assert kept + dups + superseded == read, dataset


def test_retired_ids_map_every_merged_members_own_id_to_its_golden_id(job):
    """Every source id of a golden customer whose own id (the golden formula on it) is not the customer's: one row,
    that id -> the customer's id (the cluster's label is the one member whose own id is the customer's)."""
    from hashlib import sha256

    _, out, _, _, _ = job
    golden, retired = _frame(out, "customer360_golden"), _frame(out, "retired_customer_ids")
    assert list(retired.columns) == ["retired_customer_id", "customer_id"] and retired.retired_customer_id.is_unique
    expected = {("C360-" + sha256(s.encode()).hexdigest()[:16].upper(), g.customer_id)
                for g in golden.itertuples() for s in g.source_customer_ids}
    expected = {(own, cid) for own, cid in expected if own != cid}
    assert set(retired.itertuples(index=False, name=None)) == expected
    assert len(retired) == sum(len(ids) - 1 for ids in golden.source_customer_ids) > 0
    assert not set(retired.retired_customer_id) & set(golden.customer_id)


def test_a_second_run_gives_the_same_outputs(etl, spark, job, job_run, root):
    folder, first, second, _, _ = job
    run_job(etl, spark, folder, second, root, job_run[-1])
    for name in ("customers", "purchases", "purchase_items", "feedback", "customer360_golden", "retired_customer_ids",
                 "rejects"):
        a, b = _frame(first, name), _frame(second, name)
        a, b = (x.drop(columns=[c for c in ("updated_at",) if c in x]).astype(str).sort_values(list(x.columns[:3]))
                .reset_index(drop=True) for x in (a, b))
        pd.testing.assert_frame_equal(a, b, obj=name)
