"""The load into PostgreSQL (exported_jobs/load_rds.py) on the job's real output, against the local stack's RDS.

The database is a real PostgreSQL started by rds:CreateDBInstance, reached through a Secrets Manager secret; the
failure metric goes to the emulator's CloudWatch. Curated inputs are the job's output over the generated test set
(conftest `job_run`), sometimes rewritten with pyarrow to change or break rows.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import DB_SECRET as SECRET
from helpers import golden_in_curated, golden_in_database

from c360 import aws

pytestmark = pytest.mark.e2e

TABLES = ("customer360_golden", "customers", "purchases", "purchase_items", "feedback", "rejects",
          "retired_customer_ids", "identity_links", "golden_provenance", "identity_review")


@pytest.fixture(scope="module")
def curated(job_run) -> Path:
    return job_run[1] / "curated"


def _root(folder: Path) -> str:
    return f"{folder}/"


def rewrite(src: Path, dest: Path, changes: dict) -> Path:
    """A copy of curated/ where `changes[name](pandas frame)` rewrites a table (one Parquet file, micros)."""
    shutil.copytree(src, dest)
    for name, change in changes.items():
        table = pq.read_table(src / name)
        frame = change(table.to_pandas())
        shutil.rmtree(dest / name)
        (dest / name).mkdir()
        pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False),
                       dest / name / "part-0.parquet", coerce_timestamps="us", allow_truncated_timestamps=True)
    return dest


def checksums(dsn: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of every row in key order) per table, audit columns included."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for t in TABLES:
            out[t] = conn.execute(f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                                  f"FROM {t} x").fetchone()
    return out


def row_versions(dsn: str) -> dict[str, int]:
    """The newest row version (xmin) per table: unchanged when no row was rewritten."""
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f"SELECT coalesce(max(xmin::text::bigint), 0) FROM {t}").fetchone()[0]
                for t in TABLES}


def failures_metric() -> tuple[float, float]:
    """(sum, sample count) of every RdsWriteFailures data point the stack holds."""
    now = datetime.now(UTC)
    stats = aws.client("cloudwatch").get_metric_statistics(
        Namespace="Customer360", MetricName="RdsWriteFailures", StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(days=1), Period=86400, Statistics=["Sum", "SampleCount"])
    return sum(p["Sum"] for p in stats["Datapoints"]), sum(p["SampleCount"] for p in stats["Datapoints"])


def test_load_equals_curated_and_a_reload_changes_nothing(load_rds, spark, database, curated, shipped_env, capfd):
    metric = failures_metric()
    with psycopg.connect(database) as conn:  # test_dashboards may have loaded the same curated/ already
        present = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] if conn.execute(
            "SELECT to_regclass(%s)", (t,)).fetchone()[0] else 0 for t in TABLES}
    capfd.readouterr()
    first = load_rds.run_load(spark, _root(curated), SECRET)
    for name in TABLES:
        rows = pq.read_table(curated / name).num_rows
        # identity_review: none with match keys only (test_provision loads the deployed job's, probabilistic)
        assert first["rows"][name] == rows and (rows > 0 or name == "identity_review"), name
    golden = golden_in_database(database)
    assert golden == golden_in_curated(pq.read_table(curated / "customer360_golden"))
    with psycopg.connect(database) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == len(load_rds.MIGRATIONS)
        staging = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'c360_staging'").fetchone()[0]
    assert counts == first["rows"] and staging == 0
    assert failures_metric() == (metric[0], metric[1] + 1)  # a success puts 0: the alarm has data

    # every step's seconds, in the summary and as JSON lines on stdout (the job's log): a run reads as a profile
    assert list(first["steps"]) == ["migrate", "lock", "read", "stage", "compare", "orphans", "commit", "switch",
                                    "drop"]
    assert all(isinstance(s, float) and s >= 0 for s in first["steps"].values())
    for name in TABLES:
        t = first["tables"][name]
        assert t["by"] == "driver" and t["rows"] == first["rows"][name], (name, t)
        assert t["inserted"] == t["rows"] - present[name] == first["changes"][name]["inserted"], (name, t, present)
        assert min(t["read_seconds"], t["copy_seconds"], t["compare_seconds"]) >= 0
    lines = [json.loads(ln) for ln in capfd.readouterr().out.splitlines() if ln.startswith("{")]
    steps = [(e["step"], e.get("table")) for e in lines if e["event"] == "load step"]
    assert [s for s, t in steps if t is None] == [s for s in first["steps"] if s != "compare"]
    assert {t for s, t in steps if s == "stage"} == set(TABLES) | {None}  # per table, then the whole step
    assert {t for s, t in steps if s == "compare"} == set(TABLES)
    assert [e for e in lines if e["event"] == "load finished"][0]["steps"] == first["steps"]

    before, versions = checksums(database), row_versions(database)
    second = load_rds.run_load(spark, _root(curated), SECRET)
    assert all(c == {"inserted": 0, "updated": 0, "deleted": 0} for c in second["changes"].values()), second
    assert checksums(database) == before and row_versions(database) == versions  # no row was even rewritten

    # staged by Spark's tasks (as a large table is) instead of by the driver: the same rows, byte for byte
    third = load_rds.run_load(spark, _root(curated), SECRET, driver_bytes=-1)
    assert {t["by"] for t in third["tables"].values()} == {"tasks"}, third["tables"]
    assert third["rows"] == first["rows"]
    assert all(c == {"inserted": 0, "updated": 0, "deleted": 0} for c in third["changes"].values()), third
    assert checksums(database) == before and row_versions(database) == versions


def test_changed_input_is_applied_and_readers_never_see_a_mix(load_rds, spark, database, curated, tmp_path,
                                                               shipped_env):
    load_rds.run_load(spark, _root(curated), SECRET)
    hostile = "Robert'); DROP TABLE customers;--\t\"quoted\" \\. back\\slash"
    changed = rewrite(curated, tmp_path / "changed", {
        "customer360_golden": lambda f: f.assign(full_name="Changed " + f.full_name.fillna("")),
        "purchases": lambda f: f.assign(channel="changed"),
        "feedback": lambda f: f.assign(comment=[hostile] + list(f.comment[1:])),
    })
    golden_n = pq.read_table(curated / "customer360_golden").num_rows
    purchases_n = pq.read_table(curated / "purchases").num_rows
    seen, stop = set(), threading.Event()

    def reader():  # one statement, one snapshot: both tables must come from the same state
        with psycopg.connect(database, autocommit=True) as conn:
            while not stop.is_set():
                seen.add(conn.execute(
                    "SELECT (SELECT count(*) FROM customer360_golden WHERE full_name LIKE 'Changed %'), "
                    "(SELECT count(*) FROM purchases WHERE channel = 'changed')").fetchone())
                time.sleep(0.01)
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = load_rds.run_load(spark, _root(changed), SECRET)
    finally:
        stop.set()
        thread.join()
    assert result["changes"]["customer360_golden"]["updated"] == golden_n
    assert result["changes"]["purchases"]["updated"] == purchases_n
    assert seen <= {(0, 0), (golden_n, purchases_n)} and (golden_n, purchases_n) in seen, seen
    with psycopg.connect(database) as conn:
        stored = conn.execute("SELECT comment FROM feedback WHERE comment LIKE 'Robert%'").fetchall()
        assert conn.execute("SELECT to_regclass('customers')").fetchone()[0] == "customers"
    assert stored == [(hostile,)]  # stored verbatim: COPY data and composed identifiers, never SQL text


def test_a_failure_mid_load_leaves_the_previous_state_and_puts_the_metric(load_rds, spark, database, curated,
                                                                          tmp_path, shipped_env, capfd):
    load_rds.run_load(spark, _root(curated), SECRET)
    before = checksums(database)
    # golden, customers and purchases change; then feedback (switched fifth) breaks a CHECK constraint
    broken = rewrite(curated, tmp_path / "broken", {
        "customer360_golden": lambda f: f.assign(full_name="Half " + f.full_name.fillna("")),
        "purchases": lambda f: f.iloc[: len(f) // 2],
        "feedback": lambda f: f.assign(rating=[9] + list(f.rating[1:])),
    })
    metric = failures_metric()
    with pytest.raises(psycopg.errors.CheckViolation, match="rating"):
        load_rds.run_load(spark, _root(broken), SECRET)
    assert checksums(database) == before  # every table as it was: the switch rolled back as one
    assert failures_metric()[0] == metric[0] + 1
    assert '"event": "load failed"' in capfd.readouterr().out  # the job's log: JSON lines on stdout

    # the failed load's staging tables are dropped by the next load, which applies the good input cleanly
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'c360_staging'").fetchone()[0] > 0
    load_rds.run_load(spark, _root(curated), SECRET)
    assert checksums(database) == before


def test_orphans_are_refused_before_commit(load_rds, spark, database, curated, tmp_path, shipped_env):
    load_rds.run_load(spark, _root(curated), SECRET)
    before = checksums(database)
    orphaned = rewrite(curated, tmp_path / "orphaned", {"customer360_golden": lambda f: f.iloc[1:]})
    with pytest.raises(load_rds.IntegrityError, match="without their parent"):
        load_rds.run_load(spark, _root(orphaned), SECRET)
    assert checksums(database) == before


def test_transient_errors_are_retried_and_others_are_not(load_rds, database):
    calls = []

    def refused_twice():
        calls.append(1)
        if len(calls) < 3:  # a real refused connection (nothing listens on port 9)
            return psycopg.connect("postgresql://x@127.0.0.1:9/x", connect_timeout=2)
        return "connected"
    assert load_rds.with_retries("test", refused_twice, attempts=3, base_delay=0.01) == "connected"
    assert len(calls) == 3

    def constraint():
        calls.append(1)
        with psycopg.connect(database) as conn:
            conn.execute("SELECT 1/0")
    calls.clear()
    with pytest.raises(psycopg.errors.DivisionByZero):
        load_rds.with_retries("test", constraint, attempts=5, base_delay=0.01)
    assert len(calls) == 1  # not transient: no retry


def test_copy_keeps_nulls_empty_strings_and_awkward_text_apart(load_rds, database):
    from psycopg import sql

    values = [None, "", '"', "a,b", "line\nbreak\r\nx", "\\N", "tab\there", "ünï €", "'; DROP TABLE x;--", " "]
    batches = [pa.record_batch({"k": pa.array([], pa.int32()), "v": pa.array([], pa.string())}),  # empty first
               pa.record_batch({"k": pa.array(range(len(values)), pa.int32()), "v": pa.array(values)})]
    with psycopg.connect(database) as conn:
        conn.execute("CREATE TEMP TABLE t (k integer, v text)")
        assert load_rds.copy_batches(conn, sql.Identifier("t"), ("k", "v"), batches) == len(values)
        stored = [v for _, v in conn.execute("SELECT k, v FROM t ORDER BY k")]
    assert stored == values  # NULL stays NULL, "" stays "", the rest byte for byte


@pytest.mark.reliability  # three job runs (about 80 s): make test's 15-minute budget has no room left for it
def test_an_incremental_run_loads_only_the_buckets_it_rewrote(etl, load_rds, spark, database, root, tmp_path,
                                                              shipped_env, monkeypatch):
    """The job's incremental state drives the load: a full refresh loads every row; a 3-row file loads only the
    buckets its run rewrote; a run with nothing new stages nothing; and a full load afterwards finds nothing to
    change, so the scoped loads left exactly the rows a full load gives. Runs last in this module: it leaves the
    database holding another data set."""
    import csv
    import sys

    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    manifest = generate(Params(seed=31, customers=150, purchases=450, feedback=150, files=2, bad_files=0,
                               defect_rate=0.05, duplicate_person_rate=0.1), tmp_path / "gen", progress=False)
    folder = Path(validated_copy(tmp_path / "gen", manifest, tmp_path / "in"))
    monkeypatch.setattr(sys.modules["etl_state"], "ROWS_PER_BUCKET", 30)  # about 750 records: 32 buckets
    out = tmp_path / "out"
    args = etl.parse_job_args(["--ledger_table", "", "--input_root", f"{folder}/", "--output_root", f"{out}/",
                               "--rules_root", f"{root / 'schemas'}/", "--incremental", "true",
                               "--secret_id", SECRET])
    first = etl.run(spark, args)
    assert first["mode"] == "full refresh" and first["buckets"] == 32, first
    assert first["load"]["buckets"] == "all"
    total = sum(first["load"]["rows"].values())

    source = sorted(folder.rglob("*.csv"))[0]  # a feedback file: three of its rows, with new ids, as a new file
    with source.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    with (source.parent / "late-three-rows.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *[[r[0] + "-late", *r[1:]] for r in rows[:3]]])
    second = etl.run(spark, args)
    assert second["mode"] == "incremental" and second["new_files"] == 1, second
    loaded = second["load"]
    assert loaded["buckets"] and len(loaded["buckets"]) == second["buckets_rewritten"] <= 3, loaded["buckets"]
    assert 0 < sum(loaded["rows"].values()) < total / 4, loaded["rows"]  # the touched buckets' rows, not all
    changed = loaded["changes"]
    assert changed["feedback"]["inserted"] + changed["rejects"]["inserted"] == 3, changed  # the new rows, only
    assert sum(c["deleted"] for c in changed.values()) == 0, changed
    with psycopg.connect(database) as conn:
        state = conn.execute("SELECT epoch, generation FROM c360_load_state").fetchone()
    assert state[1] == 2 and state[0]

    versions = row_versions(database)
    third = etl.run(spark, args)  # nothing new: nothing staged, no row rewritten
    assert third["new_files"] == 0 and third["load"]["buckets"] == [] and not any(third["load"]["rows"].values())
    assert row_versions(database) == versions

    full = load_rds.run_load(spark, f"{out}/curated/", SECRET)  # every row: the scoped loads left the same
    assert full["buckets"] == "all"
    assert all(c == {"inserted": 0, "updated": 0, "deleted": 0} for c in full["changes"].values()), full["changes"]
    assert golden_in_database(database) == golden_in_curated(pq.read_table(out / "curated" / "customer360_golden"))
