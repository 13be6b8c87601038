"""The reliability suite (`make test-reliability`): the deployed pipeline on the local stack, under failure.

One env, provisioned once by 00_provision; each scenario adds its own generated files (a seed of its own, so ids
never collide), injects one failure, lets the pipeline recover (a rerun where an operator would run one), then
checks the accounting over everything uploaded so far (`account`):
- every object version that reached raw/ has exactly one ledger item, and its copy is in validated/ or error/
  (never both, never twice); nothing is left in raw/; every valid file is completed;
- every record of a validated file is in PostgreSQL, among the rejects, or counted as an exact duplicate or a
  superseded version (per file, from the ledger's counts and the tables' source_file);
- the golden table in PostgreSQL equals curated/customer360_golden.
Two scenarios also compare the golden table with the job's own transform run in this process over the same files,
each once and in upload order (what exactly-once, in-order delivery would give).

Random choices (event delays, the kill point) come from C360_RELIABILITY_SEED (printed; set it to replay).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from helpers import (
    GOLDEN_FIGURES,
    body,
    curated_table,
    database_dsn,
    golden_in_curated,
    golden_in_database,
    mails,
    run_notebook,
    wait,
)

from c360 import aws, config, monitoring
from c360.datagen import Params, generate
from c360.local import stack
from c360.provision import outputs_path
from c360.reconcile import ACTIVE, reconcile

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

ENV = "c360-rel"
BUCKET = "c360-rel-lake"
DB_INSTANCE = "c360-rel-db"  # its own: test_provision's env takes 00_provision's default, in the same emulator
SEED = int(os.environ.get("C360_RELIABILITY_SEED") or time.time_ns() % 1_000_000)
# 60x, not the e2e suite's 600x: Lambda retries (1 and 2 minutes) still pass in seconds, while the Glue job's 48-hour
# timeout leaves a run 48 real minutes (at 600x a burst's multi-pass run hit its 4.8 minutes and timed out)
CLOCK_SPEED = 60.0


@dataclass
class Pipeline:
    root: Path
    tmp: Path
    outputs: dict
    dsn: str
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (key, version id) in upload order
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))

    def upload(self, key: str, body: bytes) -> str:
        version = aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        self.uploads.append((key, version))
        return version

    def upload_generated(self, params: Params, name: str) -> dict:
        folder = self.tmp / name
        manifest = generate(params, folder, progress=False)
        for f in manifest["files"]:
            self.upload(f["path"], (folder / f["path"]).read_bytes())
        return manifest


@pytest.fixture(scope="module")
def pipeline(root, tmp_path_factory, local_stack):
    print(f"\nC360_RELIABILITY_SEED={SEED}")
    tmp = tmp_path_factory.mktemp("reliability")
    previous = stack.status(local_stack)["clock_speed"]
    stack.set_clock(local_stack, CLOCK_SPEED)
    run_notebook(root, tmp, "00_provision.ipynb", "00.ipynb", env=ENV, bucket=BUCKET, glue_timeout_minutes=2880,
                 db_instance=DB_INSTANCE)
    outputs = json.loads(outputs_path(config.settings(), ENV).read_text())
    yield Pipeline(root, tmp, outputs, database_dsn(outputs["secret_id"]))
    stack.set_clock(local_stack, previous)


# ---------------------------------------------------------------------------------------------- observing
def ledger(table: str = "Customer360_table") -> list[dict]:  # 00_provision's default table name
    table = aws.resource("dynamodb").Table(table)
    items, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _keys(prefix: str) -> list[str]:
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def runs(p: Pipeline) -> list[dict]:
    return aws.client("glue").get_job_runs(JobName=p.outputs["glue_job"])["JobRuns"]


def settled(p: Pipeline, timeout: float = 600) -> list[dict]:
    """Wait until every upload is routed, every valid file completed and no job run is active; the ledger."""
    wanted = set(p.uploads)

    def done():
        items = ledger()
        by_version = {(i["source_key"], i["source_version"]): i for i in items}
        if not wanted <= set(by_version) or not all(by_version[w].get("moved") for w in wanted):
            return None
        if any(i["validation_status"] == "VALID" and i["status"] == "PENDING" for i in items):
            return None
        return items if not any(r["JobRunState"] in ACTIVE for r in runs(p)) else None

    return wait(done, timeout=timeout, every=2)


GOLDEN_SQL = ("SELECT count(*), md5(coalesce(string_agg(g::text, '|' ORDER BY g.customer_id), '')), "
              "(SELECT count(*) FROM purchases), (SELECT coalesce(sum(total_usd), 0) FROM purchases) FROM "
              f"(SELECT source_customer_ids, {', '.join(GOLDEN_FIGURES)} FROM customer360_golden) g")


def checksum(dsn: str) -> tuple:
    """(golden rows, md5 over every golden row's figures, purchases, their total) in one snapshot."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return conn.execute(GOLDEN_SQL).fetchone()


class Reader(threading.Thread):
    """Another reader of the database during a run: every distinct state it saw."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn, self.seen, self.polls, self.stop = dsn, [], 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                state = checksum(self.dsn)
            except psycopg.Error:  # the database is down or restarting: nothing to see
                state = None
            if state is not None:
                self.polls += 1
                if not self.seen or self.seen[-1] != state:
                    self.seen.append(state)
            self.stop.wait(0.2)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


# ---------------------------------------------------------------------------------------------- accounting
def account(p: Pipeline) -> dict:
    """The checks after every scenario (module docstring); returns what was counted."""
    s3 = aws.client("s3")
    items = ledger()
    left = [v["Key"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix="raw/").get("Versions", [])]
    assert [k for k in left if not k.endswith("/")] == [], "left in raw/ (folder placeholders aside)"
    by_version: dict[tuple[str, str], list[dict]] = {}
    for i in items:
        by_version.setdefault((i["source_key"], i["source_version"]), []).append(i)
    assert sorted(by_version) == sorted(set(p.uploads)), "a ledger item for every upload and for nothing else"
    assert all(len(v) == 1 for v in by_version.values()), "one ledger item per file version"
    validated = {k for k in _keys("validated/") if not k.endswith("/")}
    refused = {k for k in _keys("error/") if not k.endswith((".error.json", "/"))}
    for i in items:
        zone, other = ("validated", refused) if i["validation_status"] == "VALID" else ("error", validated)
        assert i.get("moved") and i["destination"].startswith(zone + "/"), i["record_id"]
        head = s3.head_object(Bucket=BUCKET, Key=i["destination"])
        assert head["Metadata"]["source-version"] == i["source_version"]
        assert "/".join(i["destination"].split("/")[1:]) not in {k.split("/", 1)[1] for k in other}
    valid = [i for i in items if i["validation_status"] == "VALID"]
    assert validated == {i["destination"] for i in valid}, "validated/ holds each valid version once, nothing else"
    assert refused == {i["destination"] for i in items if i["validation_status"] != "VALID"}

    tables = {"customer_details": "customers", "purchases": "purchases", "feedback": "feedback"}
    with psycopg.connect(p.dsn) as conn:
        loaded = {t: dict(conn.execute(f"SELECT source_file, count(*) FROM {t} GROUP BY 1").fetchall())
                  for t in tables.values()}
        rejects = {(d, f): n for d, f, n in conn.execute(
            "SELECT dataset, source_file, count(*) FROM rejects GROUP BY 1, 2").fetchall()}
    records = 0
    for i in valid:
        assert i["status"] in ("SUCCESS", "FAILED") and "dq_score" in i, i["record_id"]
        path = f"s3://{BUCKET}/{i['destination']}"
        read, dups, sup = int(i["records_read"]), int(i["exact_duplicates"]), int(i["superseded"])
        assert int(i["record_count"]) == read + dups, i["source_key"]
        in_db = loaded[tables[i["dataset"]]].pop(path, 0)
        rejected = rejects.pop((i["dataset"], path), 0)
        assert in_db + rejected + sup == read, (i["source_key"], in_db, rejected, sup, read)
        records += int(i["record_count"])
    assert all(not left for left in loaded.values()) and not rejects, ("rows from no ledger file", loaded, rejects)
    golden = golden_in_database(p.dsn)
    assert golden == golden_in_curated(curated_table(BUCKET, "customer360_golden", p.tmp / f"curated-{time.time()}"))
    counted = {"uploads": len(p.uploads), "valid_files": len(valid), "refused_files": len(items) - len(valid),
               "records_accounted": records, "golden_rows": len(golden)}
    print(f"accounted: {counted}")
    return counted


def reference_golden(p: Pipeline, etl, spark) -> dict:
    """The job's transform in this process over the validated files, each once, in upload order."""
    order = {u: n for n, u in enumerate(p.uploads)}
    valid = sorted((i for i in ledger() if i["validation_status"] == "VALID"),
                   key=lambda i: order[(i["source_key"], i["source_version"])])
    folder = p.tmp / f"reference-{time.time()}"
    s3, files = aws.client("s3"), []
    for n, i in enumerate(valid):
        local = folder / i["destination"]
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(BUCKET, i["destination"], str(local))
        files.append(etl.InputFile(str(local), i["dataset"], etl.file_format(str(local)), n))
    rules = {ds: etl.parse_ruleset((p.root / "schemas" / f"{ds}.dqdl").read_text()) for ds in etl.DATASETS}
    rates = etl.load_rates(spark, f"{p.root / 'schemas'}/")
    out = etl.transform(spark, files, rules, rates, datetime.now(UTC))
    return {r["customer_id"]: (tuple(sorted(r["source_customer_ids"])), *[r[c] for c in GOLDEN_FIGURES])
            for r in out.frames["customer360_golden"].collect()}


def _run_folder(run_id: str) -> Path:
    """Where the local Glue runner keeps a job run's files (driver.pid while it runs, stdout.log)."""
    return config.settings().state_dir / "glue" / "runs" / run_id


def _spark_pids(run_id: str) -> list[int]:
    """The process that runs the job run: a warm driver or a cold spark-submit (the local runner names it)."""
    marker = _run_folder(run_id) / "driver.pid"
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        pid = int(marker.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return []
    return [pid]


def _kill_the_next_run(p: Pipeline, seed: int, within: float) -> tuple[dict, float, list[int], dict]:
    """Upload a batch, SIGKILL the process running its job run at a random point; the run, the delay, the pids
    killed (none if the run had ended) and the run's final state."""
    known = {r["Id"] for r in runs(p)}
    p.upload_generated(Params(seed=seed, customers=250, purchases=1000, feedback=300, files=2, bad_files=0),
                       f"killed-{seed}")
    run = wait(lambda: next((r for r in runs(p) if r["Id"] not in known and r["JobRunState"] == "RUNNING"),
                            None), timeout=120, every=0.5)
    kill_after = p.rng.uniform(1.0, within)
    time.sleep(kill_after)
    pids = _spark_pids(run["Id"])
    for pid in pids:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed = wait(lambda: next((r for r in runs(p) if r["Id"] == run["Id"] and r["JobRunState"] not in ACTIVE),
                               None), timeout=120)
    return run, kill_after, pids, killed


# ---------------------------------------------------------------------------------------------- scenarios
def test_events_delivered_two_or_three_times_out_of_order(pipeline, local_stack, etl, spark):
    p = pipeline
    stack.set_faults(local_stack, s3_event_copies=[2, 3], s3_event_max_delay_s=4.0)
    try:
        manifest = p.upload_generated(Params(seed=101, customers=300, purchases=1200, feedback=400, files=2,
                                             bad_files=1), "dup-events")
        # a second version of a customer file, uploaded right after the first: its events may be handled first
        first = next(f for f in manifest["files"] if f["dataset"] == "customer_details" and f["role"] == "base")
        text = (p.tmp / "dup-events" / first["path"]).read_text()
        start = text.index("<email>") + len("<email>")
        old_email = text[start:text.index("</email>", start)]
        customer = text[text.rindex('id="', 0, start) + 4:text.index('"', text.rindex('id="', 0, start) + 4)]
        v2 = p.upload(first["path"], text.replace(f"<email>{old_email}</email>", "<email>v2.changed@example.com"
                                                  "</email>", 1).encode())
        items = settled(p)
        time.sleep(5)  # the last delayed copies arrive after the pipeline settled: they must change nothing
    finally:
        stack.set_faults(local_stack)
    invocations = sum(1 for e in aws.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{p.outputs['function_name']}")["events"] if e["message"].startswith("START"))
    assert invocations >= 2 * len(p.uploads), invocations  # every event really came at least twice
    items = ledger()
    counted = account(p)
    assert counted["uploads"] == len(manifest["files"]) + 1
    with psycopg.connect(p.dsn) as conn:
        email, source = conn.execute("SELECT email, source_file FROM customers WHERE source_customer_id = %s",
                                     (customer,)).fetchone()
    v2_item = next(i for i in items if i["source_version"] == v2)
    assert email == "v2.changed@example.com" and source.endswith(v2_item["destination"])  # the later version won
    assert golden_in_database(p.dsn) == reference_golden(p, etl, spark)  # as if each came once, in order
    print(f"duplicate events: {invocations} Lambda invocations for {len(p.uploads)} uploads")


def test_spark_job_killed_at_a_random_point_then_rerun_converges(pipeline, etl, spark):
    p = pipeline
    last = max((r for r in runs(p) if r["JobRunState"] == "SUCCEEDED"), key=lambda r: r["CompletedOn"])
    typical = max(10.0, float(last.get("ExecutionTime", 40)))
    # a random point may fall after a (warm, fast) run ended: then that batch simply loads, and the next batch is
    # killed sooner; a run that reports success must have finished its script before the kill
    for attempt in range(4):
        with Reader(p.dsn) as reader:
            before = checksum(p.dsn)
            run, kill_after, pids, killed = _kill_the_next_run(p, seed=202 + attempt,
                                                               within=max(1.5, 0.9 * typical / 2 ** attempt))
            if pids and killed["JobRunState"] == "FAILED":
                mid = checksum(p.dsn)
                # the operator's rerun: reconcile starts the job for what is still PENDING; a manual run re-does
                # the rest
                summary = reconcile(config.settings(), p.outputs, wait_s=120, progress=lambda _: None)
                if summary["pending"] == 0:
                    aws.client("glue").start_job_run(JobName=p.outputs["glue_job"])
                settled(p)
                break
            finished = '"job finished"' in (_run_folder(run["Id"]) / "stdout.log").read_text(errors="replace")
            assert killed["JobRunState"] == "SUCCEEDED" and finished, (pids, killed)  # not killed: it had ended
            print(f"attempt {attempt}: run {run['Id']} ended before the kill at {kill_after:.1f} s")
            settled(p)
    else:
        pytest.fail("four runs in a row ended before the kill")
    after = checksum(p.dsn)
    print(f"killed run {run['Id']} after {kill_after:.1f} s (typical run {typical:.0f} s); states seen by a reader "
          f"in {reader.polls} polls: {len(reader.seen)}")
    assert mid in (before, after), "after the kill the database holds the old or the new state, nothing between"
    assert all(state in (before, after) for state in reader.seen), reader.seen  # never a partial state
    counted = account(p)
    assert after[0] == counted["golden_rows"]
    assert golden_in_database(p.dsn) == reference_golden(p, etl, spark)  # converged: as if never killed
    with psycopg.connect(p.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM customer360_golden").fetchone()[0] == conn.execute(
            "SELECT count(DISTINCT customer_id) FROM customer360_golden").fetchone()[0]
        left = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'c360_staging'")
        assert left.fetchone()[0] == 0  # the killed load's staging was dropped by the rerun


def test_postgres_stopped_during_a_load_fails_the_run_alerts_and_a_rerun_completes(pipeline, local_stack):
    p = pipeline
    rds = aws.client("rds")
    before = checksum(p.dsn)
    known = {r["Id"] for r in runs(p)}
    manifest = p.upload_generated(Params(seed=303, customers=200, purchases=800, feedback=250, files=2, bad_files=1),
                       "pg-stopped")

    def loading():  # the job's load has begun once its staging tables appear
        try:
            with psycopg.connect(p.dsn, connect_timeout=5) as conn:
                return conn.execute("SELECT count(*) FROM information_schema.tables "
                                    "WHERE table_schema = 'c360_staging'").fetchone()[0] > 0
        except psycopg.Error:
            return False

    wait(loading, timeout=300, every=0.2)
    rds.stop_db_instance(DBInstanceIdentifier=p.outputs["db_instance"])
    try:
        failed = wait(lambda: next((r for r in runs(p) if r["Id"] not in known and r["JobRunState"] not in ACTIVE),
                                   None), timeout=300, every=1)
        assert failed["JobRunState"] == "FAILED", failed
        assert "connect" in failed["ErrorMessage"].lower() or "server" in failed["ErrorMessage"].lower(), failed
        # the alerts: the EventBridge rule's mail about this run, and the rds-write-failures alarm's
        wait(lambda: any(f"run {failed['Id']} ended FAILED" in body(m) for m in mails(local_stack)), timeout=120)
        wait(lambda: any(f'ALARM: "{ENV}-rds-write-failures"' in (m["Subject"] or "") for m in mails(local_stack)),
             timeout=120)
        mine = set(p.uploads[-len(manifest["files"]):])
        assert all(i["status"] == "PENDING" for i in ledger() if i["validation_status"] == "VALID"
                   and (i["source_key"], i["source_version"]) in mine)  # none completed without its records
    finally:
        rds.start_db_instance(DBInstanceIdentifier=p.outputs["db_instance"])
    assert checksum(p.dsn) == before  # the failed load changed nothing
    summary = reconcile(config.settings(), p.outputs, wait_s=120, progress=lambda _: None)
    assert summary["pending"] > 0 and summary["job_run"].startswith("jr_"), summary
    settled(p)
    assert checksum(p.dsn) != before
    account(p)


def test_emulator_restarted_mid_pipeline_loses_nothing_and_processes_nothing_twice(pipeline, local_stack, root):
    p = pipeline
    before_items = {i["record_id"]: i for i in ledger()}
    params = Params(seed=404, customers=200, purchases=800, feedback=250, files=3, bad_files=1)
    folder = p.tmp / "restart"
    manifest = generate(params, folder, progress=False)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda f: p.upload(f["path"], (folder / f["path"]).read_bytes()), manifest["files"]))
    new = set(p.uploads[-len(manifest["files"]):])
    routed = wait(lambda: (lambda n: n if n >= max(1, len(new) // 3) else None)(
        sum(1 for i in ledger() if (i["source_key"], i["source_version"]) in new and i.get("moved"))), timeout=120,
        every=0.1)
    log = Path(stack.status(local_stack)["log"])
    logged = log.stat().st_size
    assert stack.status(local_stack)["running"], stack.down(local_stack)  # says how it exited, if it did
    down = stack.down(local_stack)  # mid-pipeline: some files routed, others waiting in raw/ or half done
    said = log.read_bytes()[logged:].decode(errors="replace")
    assert "snapshot written" in said, (down, said[-3000:])
    stack.up(local_stack, clock_speed=CLOCK_SPEED)
    waiting = len([v for v in aws.client("s3").list_object_versions(Bucket=BUCKET, Prefix="raw/").get("Versions", [])
                   if not v["Key"].endswith("/")])
    # functions, jobs and alarms are re-created; data survived
    run_notebook(root, p.tmp, "00_provision.ipynb", "00-after-restart.ipynb", env=ENV, bucket=BUCKET,
                 glue_timeout_minutes=2880, db_instance=DB_INSTANCE)
    cli = subprocess.run([sys.executable, "-m", "c360.cli", "reconcile", "--env", ENV, "--wait", "300"],
                         capture_output=True, text=True, timeout=600)  # what an operator runs after an outage
    assert cli.returncode == 0, cli.stderr + cli.stdout
    summary = json.loads(cli.stdout)
    assert summary["raw_versions"] == waiting and not summary["errors"], summary
    settled(p)
    print(f"restart: {routed} of {len(new)} files routed before it, {waiting} re-sent from raw/ after it")
    items = {i["record_id"]: i for i in ledger()}
    for rid, old in before_items.items():  # what was done before is not done again
        assert items[rid]["lambda_request_id"] == old["lambda_request_id"] and items[rid]["moved_at"] == old[
            "moved_at"]
    account(p)


def test_a_file_validated_after_the_last_run_looked_gets_a_run_of_its_own(pipeline, local_stack):
    p = pipeline
    logs, fn = aws.client("logs"), p.outputs["function_name"]
    last = max((r for r in runs(p) if r["JobRunState"] == "SUCCEEDED"), key=lambda r: r["CompletedOn"])
    # every SUCCEEDED run reached the Lambda through the rule (the real events, not ours)
    rule_targets = aws.client("events").list_targets_by_rule(Rule=p.outputs["sweep_rule"])["Targets"]
    assert [t["Arn"] for t in rule_targets] == [p.outputs["function_arn"]]
    wait(lambda: any(last["Id"] in e["message"] and "run_succeeded" in e["message"]
                     for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{fn}")["events"]), timeout=60)
    # The race, made certain: files validated while the last run finishes, after its last look for new files,
    # when Glue refuses the Lambda's start as a concurrent run. Here the Lambda is kept from starting the job.
    before = monitoring.set_function_env(config.settings(), fn, GLUE_JOB_NAME="")
    try:
        manifest = p.upload_generated(Params(seed=707, customers=60, purchases=120, feedback=60, files=1,
                                             bad_files=0), "late")
        mine = set(p.uploads[-len(manifest["files"]):])
        wait(lambda: sum(1 for i in ledger() if (i["source_key"], i["source_version"]) in mine and i.get("moved")
                         and i["status"] == "PENDING") == len(mine), timeout=120)
    finally:
        monitoring.set_function_env(config.settings(), fn, GLUE_JOB_NAME=before["GLUE_JOB_NAME"])
    assert not any(r["JobRunState"] in ACTIVE for r in runs(p))  # stranded: nothing would take them
    # what EventBridge delivers when that run (begun before these files) SUCCEEDED
    event = {"version": "0", "source": "aws.glue", "detail-type": "Glue Job State Change", "account": "123456789012",
             "region": local_stack.region, "resources": [], "time": last["CompletedOn"].isoformat(),
             "detail": {"jobName": p.outputs["glue_job"], "severity": "INFO", "state": "SUCCEEDED",
                        "jobRunId": last["Id"], "message": "Job run succeeded"}}
    resp = aws.client("lambda").invoke(FunctionName=fn, Payload=json.dumps(event))
    result = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp and result["result"] == "started" and result["pending"] == len(mine), result
    assert result["glue"].startswith("jr_")
    again = aws.client("lambda").invoke(FunctionName=fn, Payload=json.dumps({**event, "detail": {
        **event["detail"], "state": "FAILED"}}))
    assert json.loads(again["Payload"].read())["result"] == "ignored"  # a failed run is for people (the alert)
    settled(p)
    account(p)


def test_a_burst_of_many_small_files_and_a_few_large_ones(pipeline):
    p = pipeline
    large = generate(Params(seed=505, customers=3000, purchases=15000, feedback=3000, files=1, bad_files=0,
                            update_rate=0.0), p.tmp / "burst-large", progress=False)
    small = generate(Params(seed=606, customers=120, purchases=240, feedback=240, files=40, bad_files=2),
                     p.tmp / "burst-small", progress=False)
    bodies = [(f["path"], (p.tmp / "burst-large" / f["path"]).read_bytes()) for f in large["files"]]
    bodies += [(f["path"], (p.tmp / "burst-small" / f["path"]).read_bytes()) for f in small["files"]]
    p.rng.shuffle(bodies)
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kb: p.upload(*kb), bodies))
    settled(p, timeout=900)
    seconds = time.monotonic() - t0
    sizes = sorted(len(b) for _, b in bodies)
    print(f"burst: {len(bodies)} files ({sizes[0]:,} to {sizes[-1]:,} bytes) settled in {seconds:.0f} s, "
          f"{sum(1 for r in runs(p))} job runs so far")
    account(p)


def test_a_full_refresh_from_the_workbench_changes_nothing_the_incremental_runs_loaded(pipeline, root):
    """Every scenario above ran the job as provisioned (incremental). `c360 full-refresh`, as an operator runs it,
    recomputes every file from validated/ and reloads PostgreSQL: the incremental runs left exactly what it gives."""
    p = pipeline
    before, items_before = checksum(p.dsn), {i["record_id"]: i for i in ledger()}
    cli = subprocess.run([sys.executable, "-m", "c360.cli", "full-refresh", "--env", ENV, "--wait", "600"],
                         cwd=root, capture_output=True, text=True, timeout=1800, env=dict(os.environ))
    assert cli.returncode == 0, cli.stdout + cli.stderr[-3000:]
    summary = json.loads(cli.stdout)
    assert summary["state"] == "SUCCEEDED" and "full refresh started" in cli.stderr, summary
    run = aws.client("glue").get_job_run(JobName=p.outputs["glue_job"], RunId=summary["job_run"])["JobRun"]
    assert run["Arguments"] == {"--incremental": "true", "--full_refresh": "true"}
    assert checksum(p.dsn) == before  # the same golden rows and purchases, figure for figure
    after = {i["record_id"]: i for i in ledger()}
    counts = ("status", "dq_score", "error_count", "records_read", "exact_duplicates", "superseded")
    for record_id, item in items_before.items():  # every file judged again, to the same counts
        assert {k: item.get(k) for k in counts} == {k: after[record_id].get(k) for k in counts}, item["source_key"]
        if item["validation_status"] == "VALID":
            assert after[record_id]["glue_job_run_id"] == summary["job_run"], item["source_key"]
    account(p)
