"""Glue StartJobRun runs the script with local Spark over the emulator's S3; states, events, limits."""

from __future__ import annotations

import json
import time

import pytest
from helpers import body, mail_failed_glue_runs, mails, wait

from c360 import aws

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
    return aws.client("glue")


def _job(glue, name, script, **extra):
    glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/glue-test", GlueVersion="6.0",
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/{script}",
                             "PythonVersion": "3"},
                    DefaultArguments={"--bucket": BUCKET}, WorkerType="G.1X", NumberOfWorkers=2, **extra)


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
    assert _wait_terminal(glue, "slow", first)["JobRunState"] == "STOPPED"
    glue.start_job_run(JobName="slow")  # the slot is free again
    runs = glue.get_job_runs(JobName="slow")["JobRuns"]
    assert [r["JobRunState"] for r in runs].count("STOPPED") == 1


def test_timeout(glue):
    # Timeout is in minutes; the test stack's clock runs 600x, so one minute passes in 0.1 s
    _job(glue, "too-slow", "slow.py", Timeout=1)
    run = _wait_terminal(glue, "too-slow", glue.start_job_run(JobName="too-slow")["JobRunId"])
    assert run["JobRunState"] == "TIMEOUT"


def test_a_run_sees_objects_put_after_it_started(glue):
    _job(glue, "late", "late.py")
    run_id = glue.start_job_run(JobName="late")["JobRunId"]
    wait(lambda: glue.get_job_run(JobName="late", RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING", timeout=30)
    aws.client("s3").put_object(Bucket=BUCKET, Key="validated/late.csv", Body=b"a\nb\nc\n")
    run = _wait_terminal(glue, "late", run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    out = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)["events"]
    assert any("late rows 3" in e["message"] for e in out)
