"""`make demo`: the pipeline on generated data, as far as it is built, and where to look.

Each stage that is not built yet is named as such; none is faked.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from c360 import aws, config, environment

NOT_BUILT = (
    ("50_monitoring as a demo stage (it exists: run it in JupyterLab after `c360 local clock --clock-speed 10`), "
     "the reliability suite", 7),
)


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="c360-demo")
    ap.add_argument("--out", default="data/demo")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--env", default="c360-dev")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.out)
    root = config.project_root()
    total = 8

    ok, said = environment.check_java()
    _step(1, total, f"environment: {said.splitlines()[0]}")
    if not ok:
        print(said, file=sys.stderr)
        return 1

    from c360.datagen import Params, generate

    _step(2, total, f"generating sample data into {out}/ (seed {args.seed})")
    manifest = generate(Params(seed=args.seed), out, progress=True, force=True)
    for name, d in manifest["datasets"].items():
        print(f"      {name:17s} {d['files']} files + {d['bad_files']} invalid, {d['records']:,} records, "
              f"{d['error_records']} with injected DQ defects")

    from c360.local import stack

    settings = config.settings(target=config.LOCAL)
    _step(3, total, "starting the local AWS stack")
    status = stack.up(settings)
    print(f"      {status['endpoint']} (state {status['state_dir']})")

    import papermill as pm

    executed = out / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    _step(4, total, "provisioning with notebooks/00_provision.ipynb (papermill)")
    t = time.perf_counter()
    pm.execute_notebook(str(root / "notebooks" / "00_provision.ipynb"), str(executed / "00_provision.ipynb"),
                        parameters={"env": args.env}, kernel_name="python3", cwd=str(root / "notebooks"),
                        progress_bar=False)
    from c360.provision import outputs_path

    outputs = json.loads(outputs_path(settings, args.env).read_text())
    print(f"      done in {time.perf_counter() - t:.1f} s: bucket {outputs['bucket']}, function "
          f"{outputs['function_name']}, job {outputs['glue_job']}, database {outputs['db_instance']}")

    files = sorted(p for p in (out / "raw").rglob("*") if p.is_file())
    _step(5, total, f"uploading {len(files)} files to s3://{outputs['bucket']}/raw/")
    s3 = aws.client("s3", settings)
    uploaded = {}
    for p in files:
        key = p.relative_to(out).as_posix()
        with open(p, "rb") as body:
            uploaded[f"s3://{outputs['bucket']}/{key}?versionId="
                     f"{s3.put_object(Bucket=outputs['bucket'], Key=key, Body=body).get('VersionId', 'null')}"] = key

    _step(6, total, "waiting for the validation Lambda to route each file (S3 trigger -> validated/ or error/)")
    table = aws.resource("dynamodb", settings).Table(outputs["table"])
    items: dict[str, dict] = {}
    deadline = time.monotonic() + 180
    while len(items) < len(uploaded) and time.monotonic() < deadline:
        for page_item in _scan(table):
            if page_item["record_id"] in uploaded and page_item.get("moved"):
                items[page_item["record_id"]] = page_item
        print(f"\r      {len(items)}/{len(uploaded)} files routed", end="", flush=True)
        if len(items) < len(uploaded):
            time.sleep(1)
    print()
    valid = [i for i in items.values() if i["validation_status"] == "VALID"]
    invalid = [i for i in items.values() if i["validation_status"] != "VALID"]
    print(f"      {len(valid)} valid -> validated/ ({sum(int(i['record_count']) for i in valid):,} records), "
          f"{len(invalid)} refused -> error/ with a report:")
    for i in sorted(invalid, key=lambda i: i["source_key"]):
        print(f"        {i['source_key']}: {int(i['validation_error_count'])} error(s), report {i['error_report']}")

    _step(7, total, "waiting for the Glue job to complete every valid file (curated/, PostgreSQL, DQ in the ledger)")
    done = _wait_for_glue(table, {i["record_id"] for i in valid}, aws.client("glue", settings),
                          outputs["glue_job"], timeout=900)
    for i in sorted(done.values(), key=lambda i: i["source_key"]):
        print(f"        {i['source_key']:45s} {int(i.get('records_read', 0)):>6,} records  "
              f"{int(i.get('error_count', 0)):>4} with DQ errors  dq_score {float(i.get('dq_score', 0)):6.2f}  "
              f"{i['status']}")
    _wait_for_runs_to_end(aws.client("glue", settings), outputs["glue_job"], timeout=300)
    golden = _golden_rows(s3, outputs["bucket"])  # written back to S3 when the run ends, after the ledger
    if golden is not None:
        print(f"      golden table: {golden:,} customers in s3://{outputs['bucket']}/curated/customer360_golden/")
    loaded = _loaded_rows(settings, args.env)
    if loaded is not None:
        print(f"      PostgreSQL: {loaded['customer360_golden']:,} rows in customer360_golden; "
              + ", ".join(f"{n:,} {t}" for t, n in loaded.items() if t != "customer360_golden"))

    from c360 import dashboards

    page = root / dashboards.DEFAULT_HTML
    dashboard_ok = False
    if loaded and loaded["customer360_golden"]:
        _step(8, total, "dashboards with notebooks/40_dashboards.ipynb (papermill): charts, static page, QuickSight")
        t = time.perf_counter()
        try:
            pm.execute_notebook(str(root / "notebooks" / "40_dashboards.ipynb"), str(executed / "40_dashboards.ipynb"),
                                parameters={"env": args.env, "html_out": str(page)}, kernel_name="python3",
                                cwd=str(root / "notebooks"), progress_bar=False)
            dashboard_ok = page.is_file()
            print(f"      done in {time.perf_counter() - t:.1f} s: dashboard page {page}")
        except pm.PapermillExecutionError as e:
            print(f"      40_dashboards failed: {e.ename}: {e.evalue}", file=sys.stderr)
    else:
        _step(8, total, "dashboards: skipped, the golden table is not in PostgreSQL")

    status = stack.status(settings)
    print(f"\ndone in {time.perf_counter() - t0:.1f} s. Where to look:")
    rows = [
        (f"{out}/raw/", "the generated files (as uploaded to the bucket's raw/)"),
        (f"{out}/manifest.json", "what was generated and every defect injected, per file"),
        (f"{executed}/", "the executed notebooks (00_provision, 40_dashboards)"),
        (str(page), "the dashboards: one HTML page, open it in a browser (make dashboard rewrites it)"),
        (str(outputs_path(settings, args.env)), "names and ARNs of every resource"),
        (status["mailbox"], f"SNS e-mail (Maildir, {status['mailbox_messages']} messages)"),
        (status["log"], "the emulator's log"),
        (status["endpoint"], "the local AWS endpoint (aws --endpoint-url ..., or AWS_ENDPOINT_URL)"),
    ]
    for where, what in rows:
        print(f"  {where:55s} {what}")
    for name, dsn in status["postgres"].items():
        print(f"  {dsn:55s} PostgreSQL of RDS instance {name} (password: Secrets Manager {outputs['secret_id']})")
    print("  make lab                                                JupyterLab on the notebooks")
    print("\nnot built yet (nothing below was run):")
    for what, issue in NOT_BUILT:
        print(f"  - {what} (issue {issue})")
    if len(items) < len(uploaded):
        print(f"\nFAILED: the Lambda routed {len(items)} of {len(uploaded)} files in time", file=sys.stderr)
        return 1
    if len(done) < len(valid) or golden is None:
        print(f"\nFAILED: the Glue job completed {len(done)} of {len(valid)} valid files in time (its logs: "
              f"CloudWatch /aws-glue/jobs/{outputs['glue_job']})", file=sys.stderr)
        return 1
    if loaded is None or loaded["customer360_golden"] != golden:
        print(f"\nFAILED: PostgreSQL holds {loaded and loaded['customer360_golden']} golden rows, curated/ {golden}",
              file=sys.stderr)
        return 1
    if not dashboard_ok:
        print(f"\nFAILED: 40_dashboards did not write {page} (see {executed}/40_dashboards.ipynb)", file=sys.stderr)
        return 1
    print(f"\ngolden customers in PostgreSQL: {loaded['customer360_golden']:,}; dashboard: {page}")
    return 0


def _wait_for_glue(table, wanted: set[str], glue, job: str, timeout: float) -> dict[str, dict]:
    """Ledger items of `wanted` once the job has completed them; progress on one line while it runs."""
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(wanted) and time.monotonic() < deadline:
        for item in _scan(table):
            if item["record_id"] in wanted and item.get("status") in ("SUCCESS", "FAILED") and "dq_score" in item:
                done[item["record_id"]] = item
        runs = glue.get_job_runs(JobName=job).get("JobRuns", [])
        states = ", ".join(f"{r['Id'][:10]} {r['JobRunState']}" for r in runs[:3]) or "no run yet"
        print(f"\r      {len(done)}/{len(wanted)} files completed; job runs: {states}   ", end="", flush=True)
        if any(r["JobRunState"] in ("FAILED", "TIMEOUT", "ERROR") for r in runs):
            print()
            bad = next(r for r in runs if r["JobRunState"] in ("FAILED", "TIMEOUT", "ERROR"))
            print(f"      job run {bad['Id']} {bad['JobRunState']}: {bad.get('ErrorMessage', '')[:300]}",
                  file=sys.stderr)
            break
        if len(done) < len(wanted):
            time.sleep(2)
    print()
    return done


def _wait_for_runs_to_end(glue, job: str, timeout: float) -> None:
    """The run that completed the ledger items may still look for late files and write curated/ back."""
    deadline, shown = time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        runs = glue.get_job_runs(JobName=job).get("JobRuns", [])
        active = [r["Id"][:10] for r in runs if r["JobRunState"] in ("STARTING", "RUNNING", "STOPPING", "WAITING")]
        if not active:
            break
        print(f"\r      waiting for run {', '.join(active)} to end   ", end="", flush=True)
        shown = True
        time.sleep(2)
    if shown:
        print()


def _golden_rows(s3, bucket: str) -> int | None:
    """Rows of curated/customer360_golden (its Parquet parts read with pyarrow), None when it is not there."""
    import tempfile

    import pyarrow.parquet as pq

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="curated/customer360_golden/")
            .get("Contents", []) if o["Key"].endswith(".parquet")]
    if not keys:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        total = 0
        for n, key in enumerate(keys):
            path = f"{tmp}/{n}.parquet"
            s3.download_file(bucket, key, path)
            total += pq.ParquetFile(path).metadata.num_rows
        return total


def _loaded_rows(settings, env: str) -> dict[str, int] | None:
    """Row counts of the loaded tables, None when the database cannot be read."""
    import psycopg

    from c360 import dashboards

    try:
        with psycopg.connect(dashboards.database_dsn(settings, env), connect_timeout=10) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("customer360_golden", "customers", "purchases", "feedback", "rejects")}
    except (dashboards.NoDatabase, psycopg.Error) as e:
        print(f"      PostgreSQL: cannot read the loaded tables: {e}", file=sys.stderr)
        return None


def _scan(table):
    kwargs = {}
    while True:
        page = table.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


if __name__ == "__main__":
    sys.exit(main())
