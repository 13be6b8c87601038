"""Benchmark: drop -> PostgreSQL latency of one small file on the local stack, incremental against today's recompute.

On a fresh local stack (its own state folder and port, real time: clock speed 1), provisioned by 00_provision as a
user would, a generated history is uploaded to raw/ and settles (validated, judged by the job, loaded). Then, for each
mode, 3-row feedback files (three rows of the history with new feedback ids, so they refer to existing customers
and purchases) are put into raw/ one after another (`--drops`, 3), and the clock runs until each file's rows are in
PostgreSQL's `feedback` table:

1. **incremental**: the job as provisioned (`--incremental true`): it judges the new file and what it touches;
2. the yardstick, **recompute** (`--incremental false`; the emulator has no UpdateJob, so the job is replaced):
   every file judged again.

The local Glue runner keeps a warm Spark driver per version of the job's code (glue_runner.py): the history's runs
start it, so these runs find it warm, and its JVM gets faster over the first few (`C360_GLUE_WARM=0`: a cold
`spark-submit` per run).

Printed for each: the seconds from the upload to the rows in PostgreSQL, and where they went (the Lambda's routing
from the ledger item, the wait for the Glue run to start, the job's own seconds and its slowest steps from its log,
the load). Not a test: timings depend on the machine and its load.

Run: `python bench/latency_bench.py` (a 500-customer history, about 3,500 records: about 5 minutes);
`--customers 5000` for a larger one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV = "c360-latency"


def _wait(what: str, check, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def three_rows(history: Path, mode: str) -> tuple[bytes, list[str]]:
    """Three feedback rows of the history with new ids; the CSV and the ids."""
    source = sorted((history / "raw" / "feedback").glob("*.csv"))[0]
    with source.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("rating") and r.get("customer_id")][:3]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    ids = []
    for r in rows:
        ids.append(r["feedback_id"] + f"-lat-{mode}")
        w.writerow(dict(r, feedback_id=ids[-1]))
    return out.getvalue().encode(), ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=500, help="history size (purchases 4x, feedback 1x)")
    ap.add_argument("--drops", type=int, default=3, help="files dropped per mode, one after another (the job's warm "
                    "driver gets faster over its first runs)")
    a = ap.parse_args()
    from c360.lab import free_port

    tmp = Path(tempfile.mkdtemp(prefix="c360-latency-bench-"))
    os.environ.update(C360_STATE_DIR=str(tmp / "state"), C360_LOCAL_PORT=str(free_port("127.0.0.1", 0)),
                      C360_TARGET="local")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)

    import papermill as pm
    import psycopg

    from c360 import aws, config, shipped
    from c360.dashboards import database_dsn
    from c360.datagen import Params, generate
    from c360.local import stack
    from c360.provision import outputs_path

    settings = config.settings()
    stack.up(settings, clock_speed=1.0, quiet=True)
    try:
        print(f"provisioning {ENV} with 00_provision (papermill) ...", flush=True)
        pm.execute_notebook(str(ROOT / "notebooks" / "00_provision.ipynb"), str(tmp / "00.ipynb"),
                            parameters={"env": ENV}, kernel_name="python3", cwd=str(ROOT / "notebooks"),
                            progress_bar=False)
        outputs = json.loads(outputs_path(settings, ENV).read_text())
        bucket, job = outputs["bucket"], outputs["glue_job"]
        s3, glue, logs = aws.client("s3", settings), aws.client("glue", settings), aws.client("logs", settings)
        table = aws.resource("dynamodb", settings).Table(outputs["table"])
        ledger = shipped.lambda_module("ledger")
        dsn = database_dsn(settings, ENV)

        history = tmp / "history"
        manifest = generate(Params(seed=7, customers=a.customers, purchases=4 * a.customers, feedback=a.customers,
                                   files=2, bad_files=0), history, progress=False)
        records = sum(f["records"] for f in manifest["files"])
        print(f"uploading a history of {len(manifest['files'])} files, {records:,} records ...", flush=True)
        for f in manifest["files"]:
            s3.put_object(Bucket=bucket, Key=f["path"], Body=(history / f["path"]).read_bytes())

        def settled():
            items = ledger.all_items(table)
            if len(items) < len(manifest["files"]) or any(i["status"] == ledger.PENDING for i in items) or \
                    not all(i.get("moved") for i in items):
                return None
            runs = glue.get_job_runs(JobName=job)["JobRuns"]
            return items if not any(r["JobRunState"] in ("STARTING", "RUNNING", "STOPPING") for r in runs) else None
        t = time.monotonic()
        _wait("the history to settle", settled, timeout=1800, every=2)
        print(f"history settled in {time.monotonic() - t:.0f} s", flush=True)

        results = {}
        for mode in ("incremental", "recompute"):
            spec = glue.get_job(JobName=job)["Job"]
            arguments = dict(spec["DefaultArguments"], **{"--incremental": str(mode == "incremental").lower()})
            keep = ("Role", "Command", "GlueVersion", "WorkerType", "NumberOfWorkers", "Timeout", "ExecutionProperty")
            update = {k: spec[k] for k in keep if k in spec} | {"DefaultArguments": arguments}
            glue.delete_job(JobName=job)  # the emulator has no UpdateJob: 00_provision replaces the job so too
            glue.create_job(Name=job, **update)
            results[mode] = []
            for drop in range(a.drops):
                known = {r["Id"] for r in glue.get_job_runs(JobName=job)["JobRuns"]}
                body, ids = three_rows(history, f"{mode}-{drop}")
                key = f"raw/feedback/latency-{mode}-{drop}.csv"
                t0 = time.time()
                s3.put_object(Bucket=bucket, Key=key, Body=body)

                def loaded(ids=ids):
                    with psycopg.connect(dsn, connect_timeout=5) as conn:
                        n = conn.execute("SELECT count(*) FROM feedback WHERE feedback_id = ANY(%s)", (ids,)).fetchone()
                    return time.time() if n[0] == len(ids) else None
                t_pg = _wait(f"the {mode} file's rows in PostgreSQL", loaded, timeout=1800)
                item = next(i for i in ledger.all_items(table) if i["source_key"] == key)
                def ended(known=known):
                    return next((r for r in glue.get_job_runs(JobName=job)["JobRuns"] if r["Id"] not in known
                                 and r["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING")), None)
                run = _wait("its job run to end", ended, timeout=600)
                group = arguments.get("--continuous-log-logGroup", "/aws-glue/jobs/output")  # the job's driver output
                events = logs.get_log_events(logGroupName=group, logStreamName=run["Id"])["events"]
                finished = next((json.loads(e["message"]) for e in reversed(events)
                                 if '"job finished"' in e["message"]), {})
                steps = finished.get("steps", {})
                results[mode].append({
                    "drop_to_postgres_s": round(t_pg - t0, 1),
                    "run_started_after_s": round(run["StartedOn"].timestamp() - t0, 1),
                    "job_s": finished.get("seconds"), "load_s": steps.get("load"),
                    "mode": finished.get("mode", "recompute"), "validated_at": item.get("validated_at"),
                    "slowest_steps": sorted(steps.items(), key=lambda kv: -kv[1])[:5]})
                r = results[mode][-1]
                print(f"{mode:12s} file {drop + 1}: drop -> PostgreSQL {r['drop_to_postgres_s']:6.1f} s  "
                      f"(run started after {r['run_started_after_s']:.1f} s, job {r['job_s']} s, "
                      f"load {r['load_s']} s; slowest: "
                      f"{', '.join(f'{n} {t:.1f}' for n, t in r['slowest_steps'])})", flush=True)
        print(json.dumps({"customers": a.customers, "records": records, **results}, indent=2, default=str))
    finally:
        stack.down(settings)


if __name__ == "__main__":
    main()
