"""00_provision and 99_teardown under papermill against the local stack; IAM lint; the aws dry run."""

from __future__ import annotations

import json
import re

import papermill as pm
import pytest
from helpers import wait
from parliament import analyze_policy_string

from c360 import aws, config
from c360.provision import outputs_path

pytestmark = [pytest.mark.e2e, pytest.mark.notebook]

ENV = "c360-test"
DATA_SERVICES = ("s3", "dynamodb", "secretsmanager", "rds", "sqs", "sns", "glue", "lambda", "logs")


def _run(root, tmp_path, name: str, out_name: str, **params) -> str:
    out = tmp_path / out_name
    pm.execute_notebook(str(root / "notebooks" / name), str(out), parameters=params, kernel_name="python3",
                        cwd=str(root / "notebooks"), progress_bar=False)
    nb = json.loads(out.read_text())
    return "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                     for c in nb["cells"] for o in c.get("outputs", []))


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
    first = _actions(_run(root, tmp, "00_provision.ipynb", "00-first.ipynb", env=ENV, bucket="c360-test-lake"))
    outputs = json.loads(outputs_path(config.settings(), ENV).read_text())
    return tmp, first, outputs


def test_provision_creates_everything_then_changes_nothing(root, provisioned):
    tmp, first, outputs = provisioned
    assert first.get("created", 0) >= 25 and "updated" not in first, first
    second = _actions(_run(root, tmp, "00_provision.ipynb", "00-second.ipynb", env=ENV, bucket="c360-test-lake"))
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


def test_a_put_to_raw_runs_the_deployed_lambda(provisioned):
    s3, logs = aws.client("s3"), aws.client("logs")
    s3.put_object(Bucket="c360-test-lake", Key="raw/feedback/feedback 0001.csv", Body=b"feedback_id\n")
    group = f"/aws/lambda/{ENV}-validate"

    def classified():
        events = logs.filter_log_events(logGroupName=group)["events"]
        return [json.loads(e["message"]) for e in events if '"classified"' in e["message"]]

    line = wait(classified)[0]
    assert line["key"] == "raw/feedback/feedback 0001.csv" and line["dataset"] == "feedback"


def test_teardown_leaves_nothing(root, provisioned):
    tmp, _, _ = provisioned
    text = _run(root, tmp, "99_teardown.ipynb", "99.ipynb", env=ENV, bucket="c360-test-lake")
    assert "nothing left" in text
    assert not outputs_path(config.settings(), ENV).exists()
    again = _run(root, tmp, "99_teardown.ipynb", "99-again.ipynb", env=ENV, bucket="c360-test-lake")
    assert "already gone" in again and "nothing left" in again


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
