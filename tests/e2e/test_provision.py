"""00_provision and 99_teardown under papermill against the local stack; IAM lint; the aws dry run."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import papermill as pm
import psycopg
import pytest
from corpora import CORPORA
from helpers import curated_table, database_dsn, golden_in_curated, golden_in_database, wait
from helpers import run_notebook as _run
from parliament import analyze_policy_string

from c360 import aws, config, shipped
from c360.provision import ProvisionConfig, Provisioner, outputs_path

pytestmark = [pytest.mark.e2e, pytest.mark.notebook]

ENV = "c360-test"
DATA_SERVICES = ("s3", "dynamodb", "secretsmanager", "rds", "sqs", "sns", "glue", "lambda", "logs")


def _actions(text: str) -> dict[str, int]:
    counts = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(created|updated|unchanged|skipped|would create|would update)\s+(\d+)", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def provisioned(root, tmp_path_factory, local_stack):
    tmp = tmp_path_factory.mktemp("provision")
    # the stack's clock runs 600x: the longest Glue timeout (48 h) leaves the real job about 5 minutes
    first = _actions(_run(root, tmp, "00_provision.ipynb", "00-first.ipynb", env=ENV, bucket="c360-test-lake",
                          glue_timeout_minutes=2880))
    outputs = json.loads(outputs_path(config.settings(), ENV).read_text())
    return tmp, first, outputs


def test_provision_creates_everything_then_changes_nothing(root, provisioned):
    tmp, first, outputs = provisioned
    assert first.get("created", 0) >= 25 and "updated" not in first, first
    second = _actions(_run(root, tmp, "00_provision.ipynb", "00-second.ipynb", env=ENV, bucket="c360-test-lake",
                           glue_timeout_minutes=2880))
    assert set(second) <= {"unchanged", "skipped"} and second["unchanged"] >= 25, second
    s3 = aws.client("s3")
    assert s3.get_bucket_versioning(Bucket="c360-test-lake")["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket="c360-test-lake")["PublicAccessBlockConfiguration"].values())
    rule = s3.get_bucket_encryption(Bucket="c360-test-lake")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ep = aws.client("rds").describe_db_instances(DBInstanceIdentifier="customer360")["DBInstances"][0]["Endpoint"]
    secret = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=outputs["secret_id"])["SecretString"])
    assert (secret["host"], secret["port"]) == (ep["Address"], ep["Port"])
    assert outputs["function_name"] == f"{ENV}-validate" and len(outputs["alarms"]) == 4


def test_a_second_env_is_refused_another_envs_database_and_no_secret_is_left(root, provisioned):
    """Another env in the account with the default db_instance would make a secret whose password the instance never
    had (every load would fail to log in): provisioning stops first, names the parameter, and creates nothing, so
    that a rerun is refused the same way."""
    second = Provisioner(ProvisionConfig(env="c360-second"), config.settings(), root)
    refused = r"RDS instance customer360 already exists.*db_instance=\"c360-second-db"
    for _ in range(2):
        with pytest.raises(RuntimeError, match=refused):
            second.ensure_database()
    names = {s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]}
    assert "c360-second-rds-master" not in names and f"{ENV}-rds-master" in names


def test_policies_pass_the_linter_and_grant_no_wildcard_actions(provisioned):
    _, _, outputs = provisioned
    assert set(outputs["policies"]) == {f"{ENV}-lambda-validate", f"{ENV}-glue-etl"}
    for name, policy in outputs["policies"].items():
        findings = analyze_policy_string(json.dumps(policy)).findings
        assert [(f.issue, f.detail) for f in findings] == [], name
        for st in policy["Statement"]:
            for action in st["Action"]:
                service, _, verb = action.partition(":")
                assert "*" not in verb, f"{name}: wildcard action {action}"
                if service in DATA_SERVICES:
                    assert st["Resource"] != ["*"], f"{name}: {action} on every resource"


def test_the_ledger_table_has_its_pending_index_and_only_the_index_is_queried(provisioned):
    _, _, outputs = provisioned
    ledger = shipped.lambda_module("ledger")
    desc = aws.client("dynamodb").describe_table(TableName=outputs["table"])["Table"]
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = desc["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ledger.INDEX_NAME == outputs["table_index"] == "status-received_at"
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [("status", "HASH"),
                                                                                 ("received_at", "RANGE")]
    assert index["Projection"]["ProjectionType"] == "ALL" and index["IndexStatus"] == "ACTIVE"
    index_arn = f"{outputs['table_arn']}/index/status-received_at"
    for name, policy in outputs["policies"].items():
        grants = {(a, r) for st in policy["Statement"] for a in st["Action"] for r in st.get("Resource", [])
                  if a.startswith("dynamodb:")}
        assert ("dynamodb:Query", index_arn) in grants, name  # the pending files, by the index
        assert not any(a == "dynamodb:Query" and r != index_arn for a, r in grants), name
        assert not any(a == "dynamodb:Scan" for a, _ in grants), name  # neither reads the whole table any more
    # the Glue job finds its files through the ledger protocol's Queries: lambda/ledger.py ships with it
    job = aws.client("glue").get_job(JobName=f"{ENV}-customer360-etl")["Job"]
    assert "s3://c360-test-lake/jobs/ledger.py" in job["DefaultArguments"]["--extra-py-files"].split(",")


def test_an_existing_ledger_table_without_the_index_gets_it(root, local_stack):
    ledger = shipped.lambda_module("ledger")
    ddb, name = aws.client("dynamodb"), "c360-older-ledger"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "record_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "record_id", "AttributeType": "S"}])
    table = aws.resource("dynamodb").Table(name)
    try:
        for n, status in enumerate(["PENDING", "SUCCESS", "PENDING"]):
            table.put_item(Item={"record_id": f"s3://lake/raw/feedback/f{n}.csv?versionId=v{n}", "status": status,
                                 "validation_status": "VALID", "moved": True,
                                 "received_at": f"2026-01-0{3 - n}T00:00:00.000Z"})
        with pytest.raises(ledger.MissingIndex, match="run 00_provision"):
            ledger.pending_items(table)
        p = Provisioner(ProvisionConfig(env="c360-older", table=name), config.settings(), root)
        p.ensure_table()
        step = p.steps[-1]
        assert (step.kind, step.action) == ("dynamodb table", "updated") and "added" in step.detail, step
        (index,) = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
        assert index["IndexName"] == "status-received_at" and index["IndexStatus"] == "ACTIVE"
        # the items written before the index are in it (DynamoDB backfills a new index), oldest first
        assert [i["record_id"][-2:] for i in ledger.pending_items(table)] == ["v2", "v0"]
        again = Provisioner(ProvisionConfig(env="c360-older", table=name), config.settings(), root)
        again.ensure_table()
        assert again.steps[-1].action == "unchanged"
    finally:
        ddb.delete_table(TableName=name)


BUCKET = "c360-test-lake"
FEEDBACK = "feedback_id,customer_id,purchase_id,feedback_date,rating,channel,comment\nF1,C1,,2024-01-02,5,web,ok\n"


def _ledger(key: str) -> dict | None:
    table = aws.resource("dynamodb").Table("Customer360_table")
    items = table.scan()["Items"]
    return next((i for i in items if i["source_key"] == key), None)


def _keys(prefix: str) -> list[str]:
    return [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
            if not o["Key"].endswith("/")]


def test_the_deployed_lambda_routes_valid_and_invalid_files(provisioned):
    s3 = aws.client("s3")
    good = s3.put_object(Bucket=BUCKET, Key="raw/feedback/fb one.csv", Body=FEEDBACK.encode())
    s3.put_object(Bucket=BUCKET, Key="raw/purchases/dup.json", Body=b'[{"purchase_id": "P1", "purchase_id": "P2"}]')
    wait(lambda: _ledger("raw/feedback/fb one.csv") and _ledger("raw/purchases/dup.json"), timeout=60)
    wait(lambda: not _keys("raw/feedback/fb") and not _keys("raw/purchases/dup"), timeout=30)
    ok = _ledger("raw/feedback/fb one.csv")
    assert ok["validation_status"] == "VALID" and ok["status"] == "PENDING" and int(ok["record_count"]) == 1
    assert ok["source_version"] == good["VersionId"]
    dest = ok["validated_path"].split(f"s3://{BUCKET}/")[1]
    assert dest == f"validated/feedback/fb one.{good['VersionId']}.csv"
    assert s3.get_object(Bucket=BUCKET, Key=dest)["Body"].read() == FEEDBACK.encode()
    bad = _ledger("raw/purchases/dup.json")
    assert bad["validation_status"] == "INVALID"
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=bad["error_report"].split(f"{BUCKET}/")[1])["Body"].read())
    assert report["errors"][0]["code"] == "duplicate_key" and report["valid"] is False
    assert _keys("error/purchases/") == sorted([bad["destination"], bad["destination"] + ".error.json"])


def test_text_is_normalised_to_utf8_without_bom(provisioned):
    s3 = aws.client("s3")
    xml = ('<?xml version="1.0" encoding="ISO-8859-1"?><customers><customer id="C9"><first_name>Zoé</first_name>'
           "<last_name>Müller</last_name><email>z@m.de</email><signup_date>2024-01-02</signup_date></customer>"
           "</customers>").encode("latin-1")
    s3.put_object(Bucket=BUCKET, Key="raw/customer_details/latin.xml", Body=xml)
    s3.put_object(Bucket=BUCKET, Key="raw/feedback/bom.csv", Body=b"\xef\xbb\xbf" + FEEDBACK.encode())
    wait(lambda: _ledger("raw/customer_details/latin.xml") and _ledger("raw/feedback/bom.csv"), timeout=60)
    wait(lambda: not _keys("raw/customer_details/latin") and not _keys("raw/feedback/bom"), timeout=30)
    item = _ledger("raw/customer_details/latin.xml")
    assert item["original_encoding"] == "iso-8859-1" and item["validation_status"] == "VALID"
    copy = s3.get_object(Bucket=BUCKET, Key=item["destination"])["Body"].read()
    assert copy.startswith(b'<?xml version="1.0" encoding="UTF-8"?>') and "Zoé" in copy.decode("utf-8")
    bom = _ledger("raw/feedback/bom.csv")
    assert bom["bom"] is True
    assert s3.get_object(Bucket=BUCKET, Key=bom["destination"])["Body"].read() == FEEDBACK.encode()


def test_a_repeated_event_changes_nothing(provisioned):
    item = _ledger("raw/feedback/fb one.csv")
    obj = {"key": "raw/feedback/fb+one.csv", "versionId": item["source_version"]}
    event = {"Records": [{"eventSource": "aws:s3", "eventTime": "2026-01-01T00:00:00Z",
                          "s3": {"bucket": {"name": BUCKET}, "object": obj}}]}
    before = aws.client("s3").list_object_versions(Bucket=BUCKET, Prefix="validated/").get("Versions", [])
    ledger_before = aws.resource("dynamodb").Table("Customer360_table").scan()["Count"]
    for _ in range(3):
        resp = aws.client("lambda").invoke(FunctionName=f"{ENV}-validate", Payload=json.dumps(event))
        assert "FunctionError" not in resp
        assert json.loads(resp["Payload"].read())["results"][0]["result"] == "duplicate"
    after = aws.client("s3").list_object_versions(Bucket=BUCKET, Prefix="validated/").get("Versions", [])
    assert len(after) == len(before)
    assert aws.resource("dynamodb").Table("Customer360_table").scan()["Count"] == ledger_before


def test_hostile_files_through_the_real_lambda_path_end_in_error(provisioned):
    s3 = aws.client("s3")
    sample = ["payloadsallthethings-xxe/Classic XXE - etc passwd.xml", "defusedxml-xmltestdata/xmlbomb.xml",
              "payloadsallthethings-xxe/XXE OOB Attack (Yunusov, 2013).xml"]
    for i, rel in enumerate(sample):
        s3.put_object(Bucket=BUCKET, Key=f"raw/customer_details/hostile_{i}.xml", Body=(CORPORA / rel).read_bytes())
    wait(lambda: all(_ledger(f"raw/customer_details/hostile_{i}.xml") for i in range(len(sample))), timeout=60)
    for i in range(len(sample)):
        item = _ledger(f"raw/customer_details/hostile_{i}.xml")
        assert item["validation_status"] == "INVALID", sample[i]
        report = json.loads(s3.get_object(Bucket=BUCKET, Key=item["destination"] + ".error.json")["Body"].read())
        assert "root:" not in json.dumps(report)  # nothing of /etc/passwd was read


def test_each_valid_file_starts_the_job_or_waits_pending(provisioned):
    s3, logs = aws.client("s3"), aws.client("logs")
    for name in ("burst_a.csv", "burst_b.csv"):
        s3.put_object(Bucket=BUCKET, Key=f"raw/feedback/{name}", Body=FEEDBACK.encode())
    group = f"/aws/lambda/{ENV}-validate"

    def settled():
        items = [_ledger(f"raw/feedback/burst_{x}.csv") for x in "ab"]
        if not all(items):
            return None
        events = logs.filter_log_events(logGroupName=group)["events"]
        deferred = {json.loads(e["message"])["record_id"] for e in events if "glue_start_deferred" in e["message"]}
        started = {i["record_id"] for i in items if i.get("glue_start_run_id")}
        # the job allows one run at a time: each valid file either started it or, refused, waits PENDING
        return (items, started, deferred) if {i["record_id"] for i in items} <= started | deferred else None

    items, started, deferred = wait(settled, timeout=60)
    # PENDING until a Glue run completes it (one may already have, the job is real)
    assert all(i["status"] in ("PENDING", "SUCCESS", "FAILED") and i["validation_status"] == "VALID" for i in items)
    assert not (started & deferred)  # never both; a run still going from an earlier test may defer both


def _upload_generated(folder: Path) -> dict:
    """A small generated set (one file per dataset, customers linked by e-mail) uploaded to raw/; its manifest."""
    from c360.datagen import Params, generate

    manifest = generate(Params(seed=5, customers=150, purchases=400, feedback=150, files=1, bad_files=0), folder,
                        progress=False)
    for f in manifest["files"]:
        aws.client("s3").upload_file(str(folder / f["path"]), BUCKET, f["path"])
    return manifest


def test_the_glue_job_completes_every_valid_file_from_a_real_upload(provisioned, tmp_path):
    manifest = _upload_generated(tmp_path)
    s3, glue = aws.client("s3"), aws.client("glue")
    table = aws.resource("dynamodb").Table("Customer360_table")

    def completed():
        items = [i for i in table.scan()["Items"] if i["validation_status"] == "VALID"]
        uploaded = {f["path"] for f in manifest["files"]}
        if not uploaded <= {i["source_key"] for i in items}:
            return None
        return items if all(i["status"] in ("SUCCESS", "FAILED") and "dq_score" in i for i in items) else None

    items = wait(completed, timeout=420, every=2)

    def runs_ended():  # the run that completed the items may still be looking for late files
        runs = glue.get_job_runs(JobName=f"{ENV}-customer360-etl")["JobRuns"]
        return runs if all(r["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING") for r in runs) else None

    runs = wait(runs_ended, timeout=300, every=2)
    assert any(r["JobRunState"] == "SUCCEEDED" for r in runs), [(r["JobRunState"], r.get("ErrorMessage")) for r in runs]
    by_key = {i["source_key"]: i for i in items}
    for f in manifest["files"]:
        item = by_key[f["path"]]
        assert int(item["error_count"]) == f["error_records"] and int(item["records_read"]) == f["records"] - f[
            "exact_duplicates"], f["path"]
        assert item["glue_job_run_id"].startswith("jr_") and item["rule_results"]
        assert item["status"] == ("SUCCESS" if float(item["dq_score"]) >= 80 else "FAILED")
    golden = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/customer360_golden/")["Contents"]]
    assert any(k.endswith(".parquet") for k in golden)
    cloudwatch = aws.client("cloudwatch")
    assert cloudwatch.list_metrics(Namespace="Customer360", MetricName="DqFailurePercent")["Metrics"]
    # the job's last step loaded curated/ into PostgreSQL: the golden table there equals the curated one
    in_db = golden_in_database(database_dsn(f"{ENV}-rds-master"))
    assert in_db and in_db == golden_in_curated(curated_table(BUCKET, "customer360_golden", tmp_path))
    assert cloudwatch.list_metrics(Namespace="Customer360", MetricName="RdsWriteFailures")["Metrics"]


@pytest.mark.reliability  # three job runs (133 s): make test keeps test_matching's review decisions and the job's
def test_the_provisioned_job_runs_probabilistic_matching_with_its_shipped_jar_and_model(provisioned, tmp_path):
    """--identity probabilistic on the deployed job: Splink's jar (--extra-jars) and the model (schemas/) come from
    S3, as on Glue; the links land in curated/ and PostgreSQL. Then the review queue, through the CLI: a pair
    accepted and one rejected are stored in S3, and the job's next run applies them."""
    import subprocess
    import sys

    glue = aws.client("glue")
    job = glue.get_job(JobName=f"{ENV}-customer360-etl")["Job"]
    jar = job["DefaultArguments"]["--extra-jars"]
    assert jar.startswith(f"s3://{BUCKET}/jars/") and "splink==5.0.0" in job["DefaultArguments"][
        "--additional-python-modules"]
    assert aws.client("s3").head_object(Bucket=BUCKET, Key="schemas/identity_model.json")["ContentLength"] > 0
    arguments = {"--identity": "probabilistic"}
    # a generated set (customers linked by e-mail), and two pairs the model is unsure of, through the Lambda (its
    # runs, with match keys only, complete the files)
    s3, table = aws.client("s3"), aws.resource("dynamodb").Table("Customer360_table")
    manifest = _upload_generated(tmp_path / "generated")
    s3.put_object(Bucket=BUCKET, Key="raw/customer_details/unsure_pairs.xml",
                  Body=(Path(__file__).parent / "fixtures" / "unsure_pairs.xml").read_bytes())
    uploaded = {f["path"] for f in manifest["files"]} | {"raw/customer_details/unsure_pairs.xml"}

    def idle():
        items = [i for i in table.scan()["Items"] if i["source_key"] in uploaded]
        runs = glue.get_job_runs(JobName=job["Name"])["JobRuns"]
        return len({i["source_key"] for i in items}) == len(uploaded) and all(
            i.get("status") in ("SUCCESS", "FAILED") for i in items) and all(
            r["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING") for r in runs)
    wait(idle, timeout=420, every=1)

    def run_job() -> dict:
        run_id = glue.start_job_run(JobName=job["Name"], Arguments=arguments)["JobRunId"]

        def ended():
            run = glue.get_job_run(JobName=job["Name"], RunId=run_id)["JobRun"]
            return run if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING") else None
        run = wait(ended, timeout=420, every=2)
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        return run

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "c360.cli", "identity", "review", *args, "--env", ENV],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    run_job()
    links = curated_table(BUCKET, "identity_links", tmp_path)
    assert links.num_rows > 0
    dsn = database_dsn(f"{ENV}-rds-master")
    with psycopg.connect(dsn) as conn:
        loaded = dict(conn.execute("SELECT linked_by, count(*) FROM identity_links GROUP BY 1").fetchall())
    assert sum(loaded.values()) == links.num_rows and loaded.get("e-mail", 0) > 0

    listed = cli("--json")
    assert listed.returncode == 0, listed.stderr
    queue = {(p["a"], p["b"]): p for p in json.loads(listed.stdout)}
    assert {("REV-00", "REV-01"), ("REV-10", "REV-11")} <= set(queue)
    assert all(0.5 <= p["match_probability"] < 0.9 and p["customer_a"] != p["customer_b"] for p in queue.values())
    accept, reject = queue[("REV-00", "REV-01")], queue[("REV-10", "REV-11")]
    text = cli("--list")  # both records side by side
    assert text.returncode == 0 and f"{accept['a']}  vs  {accept['b']}" in text.stdout and "first_name" in text.stdout
    for flag, pair in (("--accept", accept), ("--reject", reject)):
        done = cli(flag, pair["b"], pair["a"], "--reviewer", "e2e")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["decision"] == flag[2:]
    waiting = {(p["a"], p["b"]) for p in json.loads(cli("--json").stdout)}
    assert not {(accept["a"], accept["b"]), (reject["a"], reject["b"])} & waiting  # decided: out of the queue
    bad = cli("--accept", "X1", "X1")
    assert bad.returncode == 2 and "two different source customer ids" in bad.stderr

    run_job()  # the decisions changed: a full refresh that applies them
    with psycopg.connect(dsn) as conn:
        owner = dict(conn.execute("SELECT source_customer_id, customer_id FROM customers WHERE source_customer_id "
                                  "= ANY(%s)", ([accept["a"], accept["b"], reject["a"], reject["b"]],)).fetchall())
        review_links = conn.execute("SELECT source_customer_id_a, source_customer_id_b FROM identity_links "
                                    "WHERE linked_by = 'review'").fetchall()
        queued = conn.execute("SELECT count(*) FROM identity_review WHERE pair_id = ANY(%s)",
                              ([accept["pair_id"], reject["pair_id"]],)).fetchone()[0]
    assert owner[accept["a"]] == owner[accept["b"]] and (accept["a"], accept["b"]) in review_links
    assert owner[reject["a"]] != owner[reject["b"]] and queued == 0


def test_30_load_rds_reloads_the_pipeline_output_without_changes(root, provisioned, tmp_path):
    out = _run(root, tmp_path, "30_load_rds.ipynb", "30.ipynb", bucket=BUCKET, secret_id=f"{ENV}-rds-master",
               workdir=str(tmp_path / "work"))
    assert "postgresql://c360_admin:****@127.0.0.1:5432/other_db" in out  # the credentials example, redacted
    assert "second load: {" in out and "(equal to curated)" in out  # the notebook asserts both itself
    in_db = golden_in_database(database_dsn(f"{ENV}-rds-master"))
    assert in_db == golden_in_curated(curated_table(BUCKET, "customer360_golden", tmp_path))


def test_every_object_that_reached_raw_is_in_exactly_one_place(provisioned):
    s3 = aws.client("s3")
    assert _keys("raw/") == []  # nothing left behind
    items = aws.resource("dynamodb").Table("Customer360_table").scan()["Items"]
    assert items
    for item in items:
        zone = "validated" if item["validation_status"] == "VALID" else "error"
        assert item["destination"].startswith(zone + "/") and item.get("moved")
        s3.head_object(Bucket=BUCKET, Key=item["destination"])
        other = ("error" if zone == "validated" else "validated") + item["destination"][len(zone):]
        assert other not in _keys(other.rsplit("/", 1)[0] + "/")
    destinations = [i["destination"] for i in items]
    assert len(destinations) == len(set(destinations))  # one ledger item and one copy per file version


def test_reprocess_puts_a_corrected_file_back_through_raw(provisioned, tmp_path):
    import subprocess
    import sys

    bad = _ledger("raw/purchases/dup.json")
    fixed = tmp_path / "dup.json"
    fixed.write_text(json.dumps([{"purchase_id": "P1", "customer_id": "C1", "purchase_ts": "2024-03-01T10:00:00Z",
                                  "currency": "USD", "items": [{"sku": "S", "quantity": 1, "unit_price": 2.5}],
                                  "total_amount": 2.5}]))
    run = subprocess.run([sys.executable, "-m", "c360.cli", "reprocess", bad["destination"], "--file", str(fixed),
                          "--env", ENV], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    version = json.loads(run.stdout)["version"]

    def routed_again():
        items = aws.resource("dynamodb").Table("Customer360_table").scan()["Items"]
        return [i for i in items if i["source_version"] == version and i.get("moved")]

    again = wait(routed_again, timeout=60)[0]
    assert again["validation_status"] == "VALID" and again["source_key"] == "raw/purchases/dup.json"
    refused = subprocess.run([sys.executable, "-m", "c360.cli", "reprocess", "validated/x.csv", "--env", ENV],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "not a refused file" in refused.stderr


def test_40_dashboards_draws_from_the_database_and_records_its_quicksight_objects(root, provisioned, tmp_path):
    page = tmp_path / "dash.html"
    out = _run(root, tmp_path, "40_dashboards.ipynb", "40.ipynb", env=ENV, html_out=str(page))
    golden = len(golden_in_database(database_dsn(f"{ENV}-rds-master")))
    assert f"{golden:,} golden customers" in out and f"dashboard page: {page}" in out and page.stat().st_size > 1e6
    recorded = json.loads(outputs_path(config.settings(), ENV).read_text())["quicksight"]
    account = aws.client("sts").get_caller_identity()["Account"]
    qs = aws.client("quicksight")
    dashboard = qs.describe_dashboard(AwsAccountId=account, DashboardId=recorded["dashboards"][0])["Dashboard"]
    assert dashboard["Name"] == "Customer 360"
    assert qs.describe_data_set(AwsAccountId=account, DataSetId=recorded["data_sets"][0])["DataSet"]
    again = _run(root, tmp_path, "40_dashboards.ipynb", "40-again.ipynb", env=ENV, html_out=str(page))
    assert "unchanged" in again and "created" not in again  # idempotent, like 00_provision


# Failure induction at 10x (122 s): the reliability suite. make test keeps each alert path's own test: an alarm's mail
# (test_alarms.py), a FAILED run's rule to the mailbox (test_glue_runner.py), failed events to the dead-letter
# queue (test_local_stack.py).
@pytest.mark.reliability
def test_50_monitoring_induces_each_failure_and_every_alert_arrives(root, provisioned, tmp_path):
    from c360.local import stack

    # Lambda errors count per 60 s of AWS time, and one invocation takes about a real second: at the suite's 600x
    # no minute could hold more than one error, so this notebook runs at 10x (retries 6 s and 12 s, periods 6 s).
    settings = config.settings()
    stack.set_clock(settings, 10)
    try:
        out = _run(root, tmp_path, "50_monitoring.ipynb", "50.ipynb", env=ENV, bad_feedback_rows=1500,
                   timeout_s=600)
    finally:
        stack.set_clock(settings, 600)
    for alarm in ("lambda-errors", "dlq-depth", "rds-write-failures", "dq-failure-percent"):
        assert f'ALARM: "{ENV}-{alarm}"' in out, alarm  # each alert arrived in the mailbox
    assert "ended FAILED" in out and "every alarm OK again" in out
    assert "every file routed; both alarms OK" in out and "feedback rows are in PostgreSQL" in out


# ---------------------------------------------------------------------------------------------- IAM enforced
# The emulator evaluates every request of the Lambda's and the job's roles (c360/local/iam.py). Each statement of
# each role's policy is needed by a named step: without it that step fails with AccessDenied. The emulator's log of
# denials (<state>/iam/denied.jsonl) says which request was refused.
def _denials_file() -> Path:
    return config.settings().state_dir / "iam" / "denied.jsonl"


def _denials_since(offset: int, role: str) -> list[dict]:
    path = _denials_file()
    if not path.exists():
        return []
    with open(path, "rb") as f:
        f.seek(offset)
        return [d for d in map(json.loads, f.read().decode().splitlines()) if f"assumed-role/{role}/" in d["principal"]]


def _mark() -> int:
    path = _denials_file()
    return path.stat().st_size if path.exists() else 0


class _Without:
    """The role's policy without one statement while the block runs; the whole policy again afterwards."""

    def __init__(self, role: str, sid: str):
        self.iam, self.role, self.sid = aws.client("iam"), role, sid

    def __enter__(self) -> dict:
        doc = self.iam.get_role_policy(RoleName=self.role, PolicyName="least-privilege")["PolicyDocument"]
        self.full = json.loads(doc) if isinstance(doc, str) else doc
        statement = next(s for s in self.full["Statement"] if s["Sid"] == self.sid)
        reduced = {**self.full, "Statement": [s for s in self.full["Statement"] if s["Sid"] != self.sid]}
        self.iam.put_role_policy(RoleName=self.role, PolicyName="least-privilege", PolicyDocument=json.dumps(reduced))
        return statement

    def __exit__(self, *exc) -> None:
        self.iam.put_role_policy(RoleName=self.role, PolicyName="least-privilege",
                                 PolicyDocument=json.dumps(self.full))


def _wait_denied(mark: int, role: str, statement: dict) -> list[dict]:
    """The emulator's denials of the role since `mark` for the statement's actions (waits for the first)."""
    actions = {a.lower() for a in statement["Action"]}
    return wait(lambda: [d for d in _denials_since(mark, role) if d["action"].lower() in actions], timeout=60)


def _wait_run(job: str, run_id: str) -> dict:
    glue = aws.client("glue")

    def ended():
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        return run if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING") else None
    return wait(ended, timeout=420, every=2)


def _function_log_since(start_ms: int) -> str:
    logs = aws.client("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{ENV}-validate", startTime=start_ms)["events"]
    return "\n".join(e["message"] for e in events)


def _glue_output(run_id: str, lines: int = 40) -> str:
    """The last lines of a run's driver output and errors (the job's continuous log group), for a failure's message."""
    group, logs = f"/aws-glue/jobs/{ENV}-customer360-etl", aws.client("logs")
    try:
        events = [e for stream in (run_id, f"{run_id}-driver-errors")
                  for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"][-lines:]]
    except Exception as e:  # noqa: BLE001 - a diagnostic: say why it is missing
        return f"(no output: {e})"
    return "\n".join(e["message"] for e in events)


def _glue_idle() -> bool:
    runs = aws.client("glue").get_job_runs(JobName=f"{ENV}-customer360-etl")["JobRuns"]
    return all(r["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING") for r in runs)


def _upload(sid: str) -> str:
    key = f"raw/customer_details/iam-{sid.lower()}-{int(time.time() * 1000)}.xml"
    aws.client("s3").put_object(Bucket=BUCKET, Key=key,
                                Body=(Path(__file__).parent / "fixtures" / "unsure_pairs.xml").read_bytes())
    return key


def _lambda_step(sid: str, outputs: dict) -> tuple[str, str]:
    """Run the pipeline step that needs the Lambda role's statement `sid`; (step, the failure as seen)."""
    lam = aws.client("lambda")
    if sid == "LedgerPendingIndex":  # EventBridge's "run SUCCEEDED" event: the Lambda looks for late files
        run = aws.client("glue").get_job_runs(JobName=f"{ENV}-customer360-etl")["JobRuns"][0]
        event = {"source": "aws.glue", "detail-type": "Glue Job State Change",
                 "detail": {"state": "SUCCEEDED", "jobName": f"{ENV}-customer360-etl", "jobRunId": run["Id"]}}
        resp = lam.invoke(FunctionName=outputs["function_name"], Payload=json.dumps(event))
        return "after a job run: the look for late files (Query on the ledger's index)", resp["Payload"].read().decode()
    start_ms = int(time.time() * 1000) - 1000
    sqs = aws.client("sqs")
    if sid == "DeadLetters":  # an event the handler cannot read fails three times, then goes to the DLQ
        sqs.purge_queue(QueueUrl=outputs["dlq_url"])
        lam.invoke(FunctionName=outputs["function_name"], InvocationType="Event",
                   Payload=b'{"Records": [{"eventSource": "aws:s3"}]}')
        step = "a failed event to the dead-letter queue (sqs:SendMessage, by Lambda as the role)"
    else:
        key = _upload(sid)
        step = {"Logs": "the function's log lines (CloudWatch Logs)",
                "ReadAndMoveRaw": "validate: read the raw file (HEAD, GET of its version)",
                "WriteValidatedAndError": "route: copy to validated/",
                "ListOwnPrefixes": "route: is the copy in validated/ already? (HEAD of a missing key: 404 needs "
                                   "s3:ListBucket, else 403)",
                "Ledger": "validate: the file's ledger item (GetItem, UpdateItem)",
                "StartGlue": "a valid file starts the Glue job (StartJobRun)",
                "Metrics": "the FilesValidated metric (PutMetricData)"}[sid]
        if sid == "Logs":
            return step, (start_ms, key)
    return step, start_ms


def _lambda_failure(sid: str, outputs: dict, start_ms, actions: set[str]) -> str:
    if sid == "Logs":  # the file is routed, yet none of its invocation's lines reach CloudWatch Logs
        start_ms, key = start_ms
        _wait_moved(key)
        time.sleep(2)
        text = _function_log_since(start_ms)
        assert key.rsplit("/", 1)[1] not in text, text
        return "the file was routed; no line of its invocation reached /aws/lambda (logs:CreateLogStream denied)"
    if sid == "DeadLetters":
        time.sleep(3)
        got = aws.client("sqs").receive_message(QueueUrl=outputs["dlq_url"], WaitTimeSeconds=1).get("Messages", [])
        assert got == [], got
        return "the failed event never reached the dead-letter queue (sqs:SendMessage denied)"
    # S3 answers a HEAD it refuses with a bare 403 ("An error occurred (403) when calling the HeadObject
    # operation: Forbidden"), every other refusal with AccessDenied / AccessDeniedException naming the action
    def refused(line: str) -> bool:
        if "AccessDenied" in line:
            return any(a in line.lower() for a in actions)
        return "(403)" in line and "HeadObject" in line and any(a.startswith("s3:") for a in actions)

    def first_refusal() -> str | None:
        return next((line for line in _function_log_since(start_ms).splitlines() if refused(line)), None)

    return wait(first_refusal, timeout=60)


LAMBDA_STATEMENTS = ("Logs", "ReadAndMoveRaw", "WriteValidatedAndError", "ListOwnPrefixes", "Ledger",
                     "LedgerPendingIndex", "StartGlue", "DeadLetters", "Metrics")


@pytest.mark.reliability  # about 80 s: make test keeps the evaluator's unit tests and the denials just below
def test_every_statement_of_the_lambda_role_is_needed_by_a_named_step(provisioned, capsys):
    """Removing any one statement of the Lambda role's policy makes a named step fail with AccessDenied."""
    _, _, outputs = provisioned
    role = f"{ENV}-lambda-validate"
    assert [s["Sid"] for s in outputs["policies"][role]["Statement"]] == list(LAMBDA_STATEMENTS)  # each one below
    wait(_glue_idle, timeout=420, every=2)
    glue = aws.client("glue")
    if not glue.get_job_runs(JobName=f"{ENV}-customer360-etl")["JobRuns"]:  # the late-files look reads a real run
        _wait_run(f"{ENV}-customer360-etl", glue.start_job_run(JobName=f"{ENV}-customer360-etl")["JobRunId"])
    report = []
    for sid in LAMBDA_STATEMENTS:
        mark = _mark()
        with _Without(role, sid) as statement:
            step, start = _lambda_step(sid, outputs)
            denied = _wait_denied(mark, role, statement)
            if sid == "LedgerPendingIndex":
                seen = start
                assert "AccessDeniedException" in seen and "dynamodb:Query" in seen, seen
            else:
                seen = _lambda_failure(sid, outputs, start, {a.lower() for a in statement["Action"]})
            time.sleep(2)  # the invocation's retries end under the same policy
        report.append(f"{role} {sid:24} {denied[0]['action']:26} -> {step}: {seen[:160]}")
    with capsys.disabled():
        print("\n" + "\n".join(report))
    wait(_glue_idle, timeout=420, every=2)


def test_requests_outside_the_roles_grants_are_denied(provisioned):
    """Each role, acting through the emulator with its own credentials, is refused what sits next to its grants."""
    from botocore.exceptions import ClientError

    sts = aws.client("sts")

    def as_role(name: str, service: str):
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::123456789012:role/{ENV}-{name}",
                                RoleSessionName="iam-test")["Credentials"]
        secret = creds["SecretAccessKey"]  # pragma: allowlist secret
        return aws.client(service, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=secret,
                          aws_session_token=creds["SessionToken"])

    def denied(call, code: str) -> str:
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == code, e.value.response["Error"]
        return e.value.response["Error"]["Message"]

    s3 = as_role("lambda-validate", "s3")
    s3.put_object(Bucket=BUCKET, Key="validated/iam-probe.txt", Body=b"x")  # what it may do, it can
    message = denied(lambda: s3.put_object(Bucket=BUCKET, Key="curated/iam-probe.txt", Body=b"x"), "AccessDenied")
    assert f"assumed-role/{ENV}-lambda-validate/iam-test" in message and "s3:PutObject" in message
    denied(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/"), "AccessDenied")
    denied(lambda: as_role("lambda-validate", "dynamodb").scan(TableName="Customer360_table"),
           "AccessDeniedException")
    denied(lambda: as_role("lambda-validate", "secretsmanager").get_secret_value(SecretId=f"{ENV}-rds-master"),
           "AccessDeniedException")

    s3 = as_role("glue-etl", "s3")
    s3.get_object(Bucket=BUCKET, Key="validated/iam-probe.txt")
    raw = _keys("raw/") or [_upload("probe")]
    message = denied(lambda: s3.delete_object(Bucket=BUCKET, Key=raw[0]), "AccessDenied")  # the job deleting raw/
    assert "s3:DeleteObject" in message
    denied(lambda: s3.put_object(Bucket=BUCKET, Key="validated/iam-probe.txt", Body=b"y"), "AccessDenied")
    denied(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/"), "AccessDenied")
    ddb = as_role("glue-etl", "dynamodb")
    aws.client("dynamodb").create_table(TableName="iam-other-table", BillingMode="PAY_PER_REQUEST",
                                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    denied(lambda: ddb.get_item(TableName="iam-other-table", Key={"k": {"S": "1"}}), "AccessDeniedException")
    denied(lambda: as_role("lambda-validate", "dynamodb").get_item(TableName="iam-other-table",
                                                                   Key={"k": {"S": "1"}}), "AccessDeniedException")
    denied(lambda: as_role("glue-etl", "cloudwatch").put_metric_data(
        Namespace="AWS/Glue", MetricData=[{"MetricName": "x", "Value": 1}]), "AccessDeniedException")
    denied(lambda: as_role("glue-etl", "glue").start_job_run(JobName=f"{ENV}-customer360-etl"),
           "AccessDeniedException")
    aws.client("dynamodb").delete_table(TableName="iam-other-table")
    aws.client("s3").delete_object(Bucket=BUCKET, Key="validated/iam-probe.txt")


GLUE_STATEMENTS = ("ReadInputsAndCode", "ReadReviewDecisions", "WriteCurated", "ListOwnPrefixes", "Ledger",
                   "LedgerPendingIndex", "DatabaseSecret", "Logs", "Metrics")
GLUE_STEPS = {
    "ReadInputsAndCode": "Glue fetches the script, --extra-py-files and --extra-jars (jobs/, jars/)",
    "ReadReviewDecisions": "probabilistic: the reviewers' decisions (review/decisions/)",
    "WriteCurated": "the incremental state and curated/ tables",
    "ListOwnPrefixes": "Spark lists the rules (schemas/) and inputs",
    "Ledger": "the ledger items of the run's files (complete_ledger)",
    "LedgerPendingIndex": "the run's files: Query on the ledger's index",
    "DatabaseSecret": "the load into PostgreSQL: its connection details",  # pragma: allowlist secret
    "Logs": "the run's continuous logs (CloudWatch Logs)",
    "Metrics": "the DqFailurePercent metric",
}


@pytest.mark.reliability
@pytest.mark.timeout(1500)  # ten job runs: 193 s on a fresh stack; 1,168 s in a CI run slowed by the alarm
# evaluator's full scans (fixed: c360/local/alarms.py)
def test_every_statement_of_the_glue_role_is_needed_by_a_named_step(provisioned, capsys):
    """Removing any one statement of the job role's policy makes a named step of a real run fail with AccessDenied;
    with the whole policy back, the next run completes every file left pending meanwhile."""
    _, _, outputs = provisioned
    role, job = f"{ENV}-glue-etl", f"{ENV}-customer360-etl"
    glue, logs = aws.client("glue"), aws.client("logs")
    assert [s["Sid"] for s in outputs["policies"][role]["Statement"]] == list(GLUE_STATEMENTS)
    wait(_glue_idle, timeout=420, every=2)
    from c360 import review

    review.decide(BUCKET, "IAM-A", "IAM-B", "reject", reviewer="iam-test")  # a decision for the job to read
    report, keys = [], []
    for sid in GLUE_STATEMENTS:
        mark, t0 = _mark(), time.monotonic()
        with _Without(role, sid) as statement:
            # a new file, so every step of a run has work; the Lambda starts the run under test
            keys.append(key := _upload(sid))
            run_id = wait(lambda: (_ledger(key) or {}).get("glue_start_run_id"), timeout=60)
            run = _wait_run(job, run_id)
            if sid == "ReadReviewDecisions":  # only a probabilistic run reads them; the Lambda starts the default
                run_id = glue.start_job_run(JobName=job, Arguments={"--identity": "probabilistic"})["JobRunId"]
                run = _wait_run(job, run_id)
            try:
                denied = _wait_denied(mark, role, statement)
            except AssertionError:
                raise AssertionError(f"without {sid}: no denial of {statement['Action']} since the mark; the run "
                                     f"{run_id} {run['JobRunState']}: {run.get('ErrorMessage')}\n"
                                     f"its output:\n{_glue_output(run_id)}") from None
            if sid == "Logs":  # the run itself succeeds; its log lines are lost
                assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
                streams = logs.describe_log_streams(logGroupName=f"/aws-glue/jobs/{job}",
                                                    logStreamNamePrefix=run_id)["logStreams"]
                assert streams == [], streams
                seen = "the run SUCCEEDED, no log stream reached its log group"
            else:
                assert run["JobRunState"] == "FAILED", run
                seen = run["ErrorMessage"]
                assert "AccessDenied" in seen, seen
        report.append(f"{role} {sid:20} {denied[0]['action']:30} -> {GLUE_STEPS[sid]}: {seen[:200]}")
        print(f"{report[-1]} ({time.monotonic() - t0:.0f} s)", flush=True)  # progress, shown if the test fails
        wait(_glue_idle, timeout=420, every=2)  # the failure's own events (after_run) before the next statement
    with capsys.disabled():
        print("\n" + "\n".join(report))
    # the whole policy: pending files complete (the job is idle: the loop's last wait)
    run = _wait_run(job, glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    # this test's files (the Lambda matrix may leave files it could not route in raw/: never in validated/, not the
    # job's to complete)
    assert {_ledger(k)["status"] for k in keys} <= {"SUCCESS", "FAILED"}, {k: _ledger(k)["status"] for k in keys}


def _wait_moved(key: str) -> None:
    wait(lambda: (_ledger(key) or {}).get("moved"), timeout=60)


def test_teardown_leaves_nothing(root, provisioned):
    tmp, _, _ = provisioned
    recorded = json.loads(outputs_path(config.settings(), ENV).read_text()).get("quicksight", {})
    text = _run(root, tmp, "99_teardown.ipynb", "99.ipynb", env=ENV, bucket="c360-test-lake")
    assert "nothing left" in text
    assert all(f"quicksight {k[:-1]}" in text for k in recorded)  # 40_dashboards' objects were deleted too
    assert not outputs_path(config.settings(), ENV).exists()
    again = _run(root, tmp, "99_teardown.ipynb", "99-again.ipynb", env=ENV, bucket="c360-test-lake")
    assert "already gone" in again and "nothing left" in again


def test_teardown_deletes_a_log_group_written_again_by_an_invocation_still_running(local_stack):
    import threading

    from c360.provision import ProvisionConfig
    from c360.teardown import Teardown

    logs, group = aws.client("logs"), "/aws/lambda/c360-late-writer"
    t = Teardown(ProvisionConfig(env="c360-late-writer"), config.settings())
    # what an invocation still running when its function was deleted does when it ends: write its logs
    late = threading.Timer(1.0, lambda: logs.create_log_group(logGroupName=group))
    late.start()
    t._delete_reappearing_log_groups(logs, [group], quiet_s=3.0)
    late.join()
    assert ("log group", group, "deleted again (written by an invocation still running)") in t.steps
    assert not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]


def test_aws_dry_run_validates_every_request_and_sends_none(root, tmp_path, monkeypatch):
    # Any request that escaped would go to a closed port and fail the run.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    text = _run(root, tmp_path, "00_provision.ipynb", "00-dry.ipynb", target="aws", dry_run=True,
                env="c360-prod", vpc_id="vpc-0123456789abcdef0", subnet_ids="subnet-0aaa,subnet-0bbb")
    counts = _actions(text)
    assert counts.get("would create", 0) >= 25 and "created" not in counts, counts
    with pytest.raises(pm.PapermillExecutionError, match="ParamValidationError|Invalid type"):
        _run(root, tmp_path, "00_provision.ipynb", "00-dry-bad.ipynb", target="aws", dry_run=True,
             env="c360-prod", vpc_id="vpc-1", subnet_ids="subnet-1", glue_workers="two")
