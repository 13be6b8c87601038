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
    ("validation Lambda: streaming validators, routing to validated/ or error/, ledger, Glue start "
     "(today the deployed Lambda classifies each key and leaves the object in raw/)", 4),
    ("Glue ETL: cleaning, identity resolution, sentiment, data quality (the job is deployed; its script "
     "exits saying so)", 5),
    ("PostgreSQL load and dashboards (the RDS instance runs, empty)", 6),
    ("monitoring notebook, the whole flow through papermill, reliability suite", 7),
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
    total = 6

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
    for p in files:
        s3.upload_file(str(p), outputs["bucket"], p.relative_to(out).as_posix())

    _step(6, total, "waiting for the validation Lambda (S3 trigger) to see each file")
    logs = aws.client("logs", settings)
    group = f"/aws/lambda/{outputs['function_name']}"
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + 120
    while len(seen) < len(files) and time.monotonic() < deadline:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            for e in page.get("events", []):
                if e["message"].startswith("{") and '"classified"' in e["message"]:
                    rec = json.loads(e["message"])
                    seen[rec["key"]] = rec
        print(f"\r      {len(seen)}/{len(files)} files seen by the Lambda", end="", flush=True)
        if len(seen) < len(files):
            time.sleep(1)
    print()
    accepted = sum(1 for r in seen.values() if "dataset" in r)
    refused = [r for r in seen.values() if "error" in r]
    print(f"      {accepted} keys accepted by prefix and extension, {len(refused)} refused:")
    for r in refused:
        print(f"        {r['key']}: {r['error']}")

    status = stack.status(settings)
    print(f"\ndone in {time.perf_counter() - t0:.1f} s. Where to look:")
    rows = [
        (f"{out}/raw/", "the generated files (as uploaded to the bucket's raw/)"),
        (f"{out}/manifest.json", "what was generated and every defect injected, per file"),
        (f"{executed}/00_provision.ipynb", "the executed provisioning notebook"),
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
    if len(seen) < len(files):
        print(f"\nFAILED: the Lambda saw {len(seen)} of {len(files)} files in time", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
