"""Glue StartJobRun runs the script with local Spark over the emulator's S3; states, events, limits."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import body, mail_failed_glue_runs, mails, wait

from c360 import aws, shipped

pytestmark = pytest.mark.e2e

BUCKET = "glue-lake"

WORD_COUNT = '''
import sys
from pyspark.sql import SparkSession, functions as F

def main(argv):
    args = dict(zip(argv[::2], argv[1::2]))
    spark = SparkSession.builder.getOrCreate()
    bucket = args["--bucket"]
    df = spark.read.option("header", "true").csv(f"s3://{bucket}/raw/people.csv")
    out = df.groupBy("city").agg(F.count("*").alias("n"))
    out.write.mode("overwrite").parquet(f"s3://{bucket}/curated/by_city")
    print("rows", df.count(), "job", args["--JOB_NAME"], "run", args["--JOB_RUN_ID"])
    spark.stop()

if __name__ == "__main__":
    main(sys.argv[1:])
'''

LATE_READER = '''
import sys, time
from pyspark.sql import SparkSession

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
spark = SparkSession.builder.getOrCreate()
path = f"s3://{args['--bucket']}/validated/late.csv"
for _ in range(120):  # the object is put after the run started: S3 reads are live on AWS, and here too
    try:
        print("late rows", spark.read.text(path).count())
        break
    except Exception:
        time.sleep(0.5)
else:
    raise SystemExit("late.csv never appeared")
spark.stop()
'''

# Each run prints its process, whether its module was imported afresh, what it sees in S3 and in its environment.
WARM = '''
import os, sys
from pyspark.sql import SparkSession
import warm_counter

warm_counter.RUNS += 1
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
spark = SparkSession.builder.getOrCreate()
rows = spark.read.text(f"s3://{args['--bucket']}/warm/input.txt").count()
print("pid", os.getpid(), "imports", warm_counter.RUNS, "rows", rows, "tag", args["--tag"], "version",
      warm_counter.VERSION, "local", os.environ.get("C360_GLUE_LOCAL"), "argv", len(sys.argv), flush=True)
if args.get("--then") == "stop":
    spark.stop()
elif args.get("--then") == "fail":
    raise RuntimeError("asked to fail")
elif args.get("--then") == "sleep":
    import time
    time.sleep(4)
'''

FAILING = '''
raise ValueError("input is broken: no customers")
'''

SLOW = '''
import time
time.sleep(300)
'''


@pytest.fixture(scope="module")
def glue(local_stack):
    s3, iam = aws.client("s3"), aws.client("iam")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/people.csv", Body=b"name,city\nann,Oslo\nbob,Oslo\ncid,Rome\n")
    for name, code in (("count.py", WORD_COUNT), ("fail.py", FAILING), ("slow.py", SLOW), ("late.py", LATE_READER)):
        s3.put_object(Bucket=BUCKET, Key=f"scripts/{name}", Body=code.encode())
    iam.create_role(RoleName="glue-test", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "glue.amazonaws.com"}}]}))
    # What these scripts do (IAM is enforced): the test bucket, the incremental test's ledger, the runs' logs
    iam.put_role_policy(RoleName="glue-test", PolicyName="fixture", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": f"arn:aws:s3:::{BUCKET}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                           "dynamodb:Query"],
             "Resource": "arn:aws:dynamodb:*:*:table/c360-incremental-ledger*"},
            {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": "arn:aws:logs:*:*:log-group:/aws-glue/*"}]}))
    return aws.client("glue")


def _job(glue, name, script, **extra):
    glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/glue-test", GlueVersion="6.0",
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/{script}",
                             "PythonVersion": "3"},
                    DefaultArguments={"--bucket": BUCKET, **extra.pop("DefaultArguments", {})}, WorkerType="G.1X",
                    NumberOfWorkers=2, **extra)


def _wait_terminal(glue, job, run_id, timeout=180):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if run["JobRunState"] in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {run['JobRunState']} after {timeout} s")


def test_run_reads_and_writes_s3_through_spark(glue):
    _job(glue, "count", "count.py")
    run_id = glue.start_job_run(JobName="count")["JobRunId"]
    assert glue.get_job_run(JobName="count", RunId=run_id)["JobRun"]["JobRunState"] in ("STARTING", "RUNNING")
    run = _wait_terminal(glue, "count", run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert "--bucket" not in run.get("Arguments", {})  # the run's own arguments, not the job's defaults (as AWS)
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="curated/by_city/")["Contents"]]
    assert any(k.endswith(".parquet") for k in keys) and not any(k.endswith(".crc") for k in keys)
    out = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)["events"]
    assert any("rows 3 job count run " + run_id in e["message"] for e in out)


def test_failed_script_ends_failed_and_the_event_reaches_the_mailbox(glue, local_stack):
    mail_failed_glue_runs("glue-job-failed", "glue-failures", "glue-oncall@example.com")
    _job(glue, "broken", "fail.py")
    run = _wait_terminal(glue, "broken", glue.start_job_run(JobName="broken")["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert "ValueError: input is broken: no customers" in run["ErrorMessage"]
    received = wait(lambda: mails(local_stack, to="glue-oncall@example.com"))
    assert len(received) == 1
    event = json.loads(body(received[0]).split("\n\n--\n")[0])
    assert event["detail"]["state"] == "FAILED" and event["detail"]["jobRunId"] == run["Id"]
    assert event["source"] == "aws.glue"


def test_max_concurrent_runs_and_batch_stop(glue):
    _job(glue, "slow", "slow.py", ExecutionProperty={"MaxConcurrentRuns": 1})
    first = glue.start_job_run(JobName="slow")["JobRunId"]
    with pytest.raises(glue.exceptions.ConcurrentRunsExceededException):
        glue.start_job_run(JobName="slow")
    deadline = time.monotonic() + 60
    while glue.get_job_run(JobName="slow", RunId=first)["JobRun"]["JobRunState"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    stopped = glue.batch_stop_job_run(JobName="slow", JobRunIds=[first, "jr_unknown"])
    assert [s["JobRunId"] for s in stopped["SuccessfulSubmissions"]] == [first]
    assert stopped["Errors"][0]["JobRunId"] == "jr_unknown"
    ended = _wait_terminal(glue, "slow", first)
    assert ended["JobRunState"] == "STOPPED", ended.get("ErrorMessage")
    glue.start_job_run(JobName="slow")  # the slot is free again
    runs = glue.get_job_runs(JobName="slow")["JobRuns"]
    assert [r["JobRunState"] for r in runs].count("STOPPED") == 1


def test_timeout(glue):
    # Timeout is in minutes; the test stack's clock runs 600x, so one minute passes in 0.1 s
    _job(glue, "too-slow", "slow.py", Timeout=1)
    run = _wait_terminal(glue, "too-slow", glue.start_job_run(JobName="too-slow")["JobRunId"])
    assert run["JobRunState"] == "TIMEOUT"


@pytest.mark.reliability  # a race with a running job (about 50 s): make test's 15-minute budget has no room for it
def test_a_run_sees_objects_put_after_it_started(glue):
    _job(glue, "late", "late.py")
    run_id = glue.start_job_run(JobName="late")["JobRunId"]
    wait(lambda: glue.get_job_run(JobName="late", RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING", timeout=30)
    aws.client("s3").put_object(Bucket=BUCKET, Key="validated/late.csv", Body=b"a\nb\nc\n")
    run = _wait_terminal(glue, "late", run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    out = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)["events"]
    assert any("late rows 3" in e["message"] for e in out)


def _warm_run(glue, job, tag, **arguments) -> tuple[dict, dict]:
    """Start a run of `job` and wait for it: the run and the fields its script printed."""
    run = _wait_terminal(glue, job, glue.start_job_run(JobName=job, Arguments={"--tag": tag, **arguments})["JobRunId"])
    out = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run["Id"])["events"]
    line = next((e["message"].split() for e in out if e["message"].startswith("pid ")), [])
    return run, dict(zip(line[::2], line[1::2], strict=True))


@pytest.mark.reliability  # five runs (about 80 s); every e2e run in make test goes through the warm driver anyway
def test_runs_share_a_warm_driver_yet_each_starts_as_a_fresh_script(glue):
    s3 = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key="scripts/warm.py", Body=WARM.encode())
    s3.put_object(Bucket=BUCKET, Key="scripts/warm_counter.py", Body=b"RUNS = 0\nVERSION = 1\n")
    s3.put_object(Bucket=BUCKET, Key="warm/input.txt", Body=b"a\nb\n")
    _job(glue, "warm", "warm.py", ExecutionProperty={"MaxConcurrentRuns": 2},
         DefaultArguments={"--extra-py-files": f"s3://{BUCKET}/scripts/warm_counter.py"})
    first, seen = _warm_run(glue, "warm", "one")
    assert first["JobRunState"] == "SUCCEEDED", first.get("ErrorMessage")
    assert seen["imports"] == "1" and seen["rows"] == "2" and seen["tag"] == "one" and seen["local"] == "1"

    s3.put_object(Bucket=BUCKET, Key="warm/input.txt", Body=b"a\nb\nc\n")  # this run's S3, not the last one's
    second, again = _warm_run(glue, "warm", "two", **{"--then": "stop"})
    assert second["JobRunState"] == "SUCCEEDED", second.get("ErrorMessage")
    assert again["pid"] == seen["pid"], "the second run should reuse the warm driver"
    assert again["imports"] == "1" and again["rows"] == "3" and again["tag"] == "two"
    assert int(again["argv"]) == int(seen["argv"]) + 2  # its own arguments: --then stop

    failed, after_stop = _warm_run(glue, "warm", "three", **{"--then": "fail"})  # the stopped session is replaced
    assert failed["JobRunState"] == "FAILED" and "RuntimeError: asked to fail" in failed["ErrorMessage"]
    assert after_stop["pid"] == seen["pid"] and after_stop["rows"] == "3"
    recovered, after_failure = _warm_run(glue, "warm", "four")  # a failed script leaves the driver serving
    assert recovered["JobRunState"] == "SUCCEEDED" and after_failure["pid"] == seen["pid"]

    s3.put_object(Bucket=BUCKET, Key="scripts/warm_counter.py", Body=b"RUNS = 0\nVERSION = 2\n")
    changed, new_code = _warm_run(glue, "warm", "five")  # other code: another driver, with the new module
    assert changed["JobRunState"] == "SUCCEEDED" and new_code["version"] == "2" and new_code["pid"] != seen["pid"]

    # two runs at once: the second finds the driver busy and gets a cold spark-submit of its own
    ids = [glue.start_job_run(JobName="warm", Arguments={"--tag": t, "--then": "sleep"})["JobRunId"]
           for t in ("six", "seven")]
    pids = set()
    for run_id in ids:
        run = _wait_terminal(glue, "warm", run_id)
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        out = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)["events"]
        pids |= {e["message"].split()[1] for e in out if e["message"].startswith("pid ")}
    assert len(pids) == 2 and new_code["pid"] in pids


def _s3_table(prefix: str, folder) -> list[tuple]:
    """The rows of a bucketed curated table under `prefix` (every Parquet part, read through the S3 API), without the
    columns that say where and when a row was written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3 = aws.client("s3")
    tables = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            if o["Key"].endswith(".parquet"):
                dest = folder / o["Key"].replace("/", "_")
                s3.download_file(BUCKET, o["Key"], str(dest))
                tables.append(pq.read_table(dest))
    if not tables:
        return []
    rows = pa.concat_tables(tables)
    if "updated_at" in rows.column_names:
        rows = rows.drop_columns(["updated_at"])
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows.to_pylist())


@pytest.mark.reliability  # three job runs (about 2.5 minutes): in the reliability suite, not make test
def test_the_customer360_job_runs_incrementally_over_s3(glue, root, tmp_path):
    """The exported job with --incremental true under the local Glue runner: the state and the bucketed tables live
    in S3; a second run takes only the new files, and its tables equal a full refresh's."""
    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    s3 = aws.client("s3")
    extra = [*(root / "exported_jobs").glob("etl_*.py"), root / "lambda" / "ledger.py"]  # as 00_provision ships them
    for module in [root / "exported_jobs" / "customer360_etl.py", *extra]:
        s3.upload_file(str(module), BUCKET, f"jobs/{module.name}")
    for schema in (root / "schemas").glob("*"):
        if schema.is_file():
            s3.upload_file(str(schema), BUCKET, f"schemas/{schema.name}")
    manifest = generate(Params(seed=31, customers=120, purchases=400, feedback=120, files=2, bad_files=0,
                               duplicate_person_rate=0.15), tmp_path / "gen", progress=False)
    files = sorted(p for p in validated_copy(tmp_path / "gen", manifest, tmp_path / "validated").rglob("*")
                   if p.is_file())
    counts = {Path(f["path"]).name: f["records"] for f in manifest["files"]}
    protocol = shipped.lambda_module("ledger")  # the table as 00_provision makes it: with the job's index
    aws.client("dynamodb").create_table(
        TableName="c360-incremental-ledger", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": protocol.KEY, "KeyType": "HASH"}],
        AttributeDefinitions=protocol.attribute_definitions(), GlobalSecondaryIndexes=[protocol.index_definition()])
    ledger = aws.resource("dynamodb").Table("c360-incremental-ledger")
    modules = ",".join(f"s3://{BUCKET}/jobs/{m.name}" for m in extra)
    glue.create_job(Name="c360-incremental", Role="arn:aws:iam::123456789012:role/glue-test", GlueVersion="6.0",
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/jobs/customer360_etl.py",
                             "PythonVersion": "3"},
                    DefaultArguments={"--bucket": BUCKET, "--ledger_table": "c360-incremental-ledger",
                                      "--extra-py-files": modules, "--metrics_namespace": "",
                                      "--input_root": f"s3://{BUCKET}/", "--rules_root":
                                      f"s3://{BUCKET}/schemas/", "--output_root": f"s3://{BUCKET}/inc/",
                                      "--incremental": "true", "--now": "2026-07-01T00:00:00+00:00"},
                    WorkerType="G.1X", NumberOfWorkers=2)

    def upload(batch):  # as the Lambda leaves them: the copy in validated/ and a VALID, PENDING ledger item
        for p in batch:
            key = f"validated/{p.parent.name}/{p.name}"
            s3.upload_file(str(p), BUCKET, key)
            ledger.put_item(Item={"record_id": f"s3://{BUCKET}/raw/{p.parent.name}/{p.name}", "dataset": p.parent.name,
                                  "bucket": BUCKET, "validation_status": "VALID", "status": "PENDING", "moved": True,
                                  "destination": key, "source_key": f"raw/{p.parent.name}/{p.name}",
                                  "received_at": f"2026-07-01T00:00:{len(uploaded):02d}Z",
                                  "record_count": counts[p.name]})
            uploaded.append(p)
    uploaded: list = []

    def run(**arguments) -> str:
        run_id = glue.start_job_run(JobName="c360-incremental", Arguments=arguments)["JobRunId"]
        done = _wait_terminal(glue, "c360-incremental", run_id, timeout=420)
        assert done["JobRunState"] == "SUCCEEDED", done.get("ErrorMessage")
        events = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)
        return "\n".join(e["message"] for e in events["events"])

    upload(files[::2])
    log = run()
    assert '"mode": "full refresh"' in log and '"reason": "no state"' in log, log[-3000:]
    upload(files[1::2])
    log = run()
    assert '"mode": "incremental"' in log and f'"new_files": {len(files[1::2])}' in log, log[-3000:]
    run(**{"--output_root": f"s3://{BUCKET}/ref/", "--full_refresh": "true"})
    for table in ("customers", "purchases", "feedback", "customer360_golden", "retired_customer_ids", "rejects"):
        got = _s3_table(f"inc/curated/{table}/", tmp_path)
        assert got and got == _s3_table(f"ref/curated/{table}/", tmp_path), table
    items = ledger.scan()["Items"]
    assert len(items) == len(files) and all(i["status"] in ("SUCCESS", "FAILED") and "dq_score" in i for i in items)


def test_a_warm_driver_that_cannot_start_fails_the_run_with_the_reason(tmp_path):
    from c360.local.glue_runner import WarmDriver

    script = tmp_path / "job.py"
    script.write_text("print('never runs')\n")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["JAVA_HOME"] = str(tmp_path / "no-java")  # spark-submit cannot start the JVM
    driver = WarmDriver(tmp_path / "driver", [script], ["--master", "local[1]"], env)
    err = tmp_path / "stderr.log"
    rc, timed_out = driver.run({"script": str(script), "args": [], "env": env, "cwd": str(tmp_path), "mounts": {},
                                "stdout": str(tmp_path / "stdout.log"), "stderr": str(err)}, timeout=120)
    assert rc != 0 and not timed_out and not driver.alive()
    assert "no-java/bin/java" in err.read_text()  # the driver's log, in the run's error stream
