"""`c360 reconcile`: finish what an outage left half done, without doing anything twice.

Two things can strand a file, on AWS as on the local stack:
- its S3 event never reached the Lambda, or every attempt failed and the event was dropped (an outage, a
  restarted emulator, a Lambda broken for longer than its retries): the object version stays in raw/;
- it was validated while a Glue run was finishing (the Lambda's start was refused as a concurrent run, and the
  run had already made its last look for new files), or the run that should have taken it died: its ledger item
  stays PENDING.

`reconcile` sends the S3 event again for every object version still in raw/ (the Lambda keys its ledger on the
version: a file already routed is reported as a duplicate and changes nothing), then starts the Glue job if any
validated file is still PENDING once no run is active (it waits for an active run to end first). Safe to run at
any time, as often as wanted. PENDING files are found as the Lambda finds them, with `pending_items` of
lambda/ledger.py (a Query on the ledger's index `status-received_at`, not a scan of the table).
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

from c360 import aws, config, shipped

ACTIVE = ("STARTING", "RUNNING", "STOPPING", "WAITING")


def raw_versions(s3, bucket: str) -> list[dict]:
    """Every object version under raw/ (oldest first), delete markers and folder placeholders aside."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="raw/"):
        found += [v for v in page.get("Versions", []) if not v["Key"].endswith("/")]
    return sorted(found, key=lambda v: (v["LastModified"], v["Key"]))


def s3_event(bucket: str, version: dict) -> dict:
    """The ObjectCreated record S3 would have sent for this version (key URL-encoded, as S3 does)."""
    when = version["LastModified"].astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    obj = {"key": quote_plus(version["Key"], safe="/"), "size": version.get("Size", 0),
           "eTag": version.get("ETag", "").strip('"')}
    if version.get("VersionId") and version["VersionId"] != "null":
        obj["versionId"] = version["VersionId"]
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "eventTime": when, "s3": {"bucket": {"name": bucket}, "object": obj}}]}


def reconcile(settings: config.Settings, outputs: dict, wait_s: float = 1800, progress=print) -> dict:
    """Re-send raw/'s events, then start the job for PENDING files once no run is active (waiting up to `wait_s`
    for one to end); returns what was done."""
    s3, lam, glue = (aws.client(n, settings) for n in ("s3", "lambda", "glue"))
    summary: dict = {"raw_versions": 0, "results": {}, "errors": [], "pending": 0, "job_run": None}
    versions = raw_versions(s3, outputs["bucket"])
    summary["raw_versions"] = len(versions)
    for n, v in enumerate(versions, 1):
        resp = lam.invoke(FunctionName=outputs["function_name"],
                          Payload=json.dumps(s3_event(outputs["bucket"], v)).encode())
        payload = json.loads(resp["Payload"].read() or b"{}")
        if resp.get("FunctionError"):
            error = str(payload.get("errorMessage", payload))[:300]
            summary["errors"].append({"key": v["Key"], "version": v.get("VersionId"), "error": error})
            progress(f"re-sent {n}/{len(versions)}: {v['Key']} -> ERROR {error}")
            continue
        for r in payload.get("results", []):
            summary["results"][r["result"]] = summary["results"].get(r["result"], 0) + 1
        progress(f"re-sent {n}/{len(versions)}: {v['Key']} -> "
                 + ", ".join(r["result"] for r in payload.get("results", [])))
    table = aws.resource("dynamodb", settings).Table(outputs["table"])
    ledger = shipped.lambda_module("ledger")
    deadline = time.monotonic() + wait_s
    while True:
        pending = ledger.pending_items(table, bucket=outputs["bucket"])  # VALID, moved and PENDING: this env's files
        summary["pending"] = len(pending)
        if not pending:
            return summary
        runs = glue.get_job_runs(JobName=outputs["glue_job"]).get("JobRuns", [])
        active = [r["Id"] for r in runs if r["JobRunState"] in ACTIVE]
        if not active:
            break
        if time.monotonic() > deadline:  # it may still take them; if not, the next reconcile starts a run
            summary["job_run"] = f"{active[0]} still running"
            progress(f"{len(pending)} file(s) PENDING while run {active[0]} is still going")
            return summary
        time.sleep(2)  # a run past its last look for new files would end without them: wait, then look again
    try:
        summary["job_run"] = glue.start_job_run(JobName=outputs["glue_job"])["JobRunId"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ConcurrentRunsExceededException":
            raise
        summary["job_run"] = "a run started meanwhile (it takes the PENDING files)"
    progress(f"{len(pending)} file(s) PENDING: job run {summary['job_run']}")
    return summary
