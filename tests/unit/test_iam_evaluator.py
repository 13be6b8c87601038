"""The emulator's IAM evaluator (c360/local/iam.py) on AWS's documented rules, and on the policies 00_provision writes:
each role may do what its steps need and nothing next to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c360 import config
from c360.local.iam import _trusts, decide, evaluate
from c360.provision import ProvisionConfig, Provisioner

BUCKET = "arn:aws:s3:::lake"


def _allow(*statements) -> list[dict]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def test_wildcards_match_anywhere_in_the_arn_including_the_path():
    policy = _allow({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/validated/*/2026-??.json"})
    assert evaluate(policy, "s3:GetObject", f"{BUCKET}/validated/customers/deep/2026-07.json")
    assert not evaluate(policy, "s3:GetObject", f"{BUCKET}/validated/customers/2026-7.json")  # ? is one character
    assert not evaluate(policy, "s3:GetObject", f"{BUCKET}/raw/customers/2026-07.json")
    # regex characters are literal: "." matches a dot only, "+" is not a quantifier
    dotted = _allow({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/a.b+c"})
    assert evaluate(dotted, "s3:GetObject", f"{BUCKET}/a.b+c")
    assert not evaluate(dotted, "s3:GetObject", f"{BUCKET}/axbbc")


def test_actions_are_case_insensitive_and_wildcarded_resources_are_not():
    policy = _allow({"Effect": "Allow", "Action": "S3:get*", "Resource": f"{BUCKET}/Curated/*"})
    assert evaluate(policy, "s3:GetObject", f"{BUCKET}/Curated/x")
    assert not evaluate(policy, "s3:GetObject", f"{BUCKET}/curated/x")
    assert not evaluate(policy, "s3:PutObject", f"{BUCKET}/Curated/x")


def test_s3_prefix_condition_narrows_a_listing():
    policy = _allow({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET,
                     "Condition": {"StringLike": {"s3:prefix": ["validated/*", "curated/*"]}}})
    assert evaluate(policy, "s3:ListBucket", BUCKET, {"s3:prefix": ["validated/customers/"]})
    assert not evaluate(policy, "s3:ListBucket", BUCKET, {"s3:prefix": ["raw/"]})
    assert not evaluate(policy, "s3:ListBucket", BUCKET, {"s3:prefix": [""]})  # the whole bucket
    assert not evaluate(policy, "s3:ListBucket", BUCKET, {})  # a missing key fails a positive operator


class _Key:
    """A role session's key as moto hands it to the evaluator: its policies as documents."""

    def __init__(self, *statements):
        self.statements = statements

    def collect_policies(self) -> list[str]:
        return [json.dumps(p) for p in _allow(*self.statements)]


def test_a_get_of_a_missing_key_needs_list_bucket_else_it_is_decided_as_list_bucket():
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/validated/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET,
               "Condition": {"StringLike": {"s3:prefix": ["validated/*"]}}}
    gone = f"{BUCKET}/validated/gone.json"
    action, resource, decision = decide(_Key(read), "s3:GetObject", gone, {}, missing=lambda arn: True)
    assert (action, resource, decision.allowed) == ("s3:ListBucket", BUCKET, False)  # S3's 403, not 404
    action, _, decision = decide(_Key(read, listing), "s3:GetObject", gone, {}, missing=lambda arn: True)
    assert (action, decision.allowed) == ("s3:GetObject", True)  # the caller may list: S3 says 404
    action, _, decision = decide(_Key(read), "s3:GetObject", gone, {})  # Spark's requests: no such rule
    assert (action, decision.allowed) == ("s3:GetObject", True)


def test_explicit_deny_wins_over_any_allow_and_reports_its_statement():
    policies = [*_allow({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
                *_allow({"Sid": "NoRaw", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/raw/*"})]
    decision = evaluate(policies, "s3:DeleteObject", f"{BUCKET}/raw/a.csv")
    assert not decision and decision.effect == "Deny" and decision.sid == "NoRaw"
    assert evaluate(policies, "s3:DeleteObject", f"{BUCKET}/curated/a")
    implicit = evaluate([], "s3:GetObject", f"{BUCKET}/x")
    assert not implicit and implicit.effect == "implicit"


def test_not_action_and_not_resource():
    policy = _allow({"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": f"{BUCKET}/raw/*"})
    assert evaluate(policy, "s3:PutObject", f"{BUCKET}/curated/x")
    assert not evaluate(policy, "s3:DeleteObject", f"{BUCKET}/curated/x")
    assert not evaluate(policy, "s3:PutObject", f"{BUCKET}/raw/x")


@pytest.mark.parametrize(("condition", "context", "expected"), [
    ({"StringEquals": {"cloudwatch:namespace": "Customer360"}}, {"cloudwatch:namespace": ["Customer360"]}, True),
    ({"StringEquals": {"cloudwatch:namespace": "Customer360"}}, {"cloudwatch:namespace": ["customer360"]}, False),
    ({"StringEqualsIgnoreCase": {"cloudwatch:namespace": "Customer360"}}, {"cloudwatch:namespace": ["customer360"]},
     True),
    ({"StringNotEquals": {"cloudwatch:namespace": "AWS/Lambda"}}, {"cloudwatch:namespace": ["Customer360"]}, True),
    ({"StringNotEquals": {"cloudwatch:namespace": "AWS/Lambda"}}, {}, True),  # negated: a missing key passes
    ({"StringNotLike": {"s3:prefix": "raw/*"}}, {"s3:prefix": ["raw/x"]}, False),
    ({"StringEqualsIfExists": {"s3:prefix": "raw/"}}, {}, True),
    ({"StringEqualsIfExists": {"s3:prefix": "raw/"}}, {"s3:prefix": ["curated/"]}, False),
    ({"Null": {"s3:prefix": "true"}}, {}, True),
    ({"Null": {"s3:prefix": "false"}}, {}, False),
    ({"Null": {"s3:prefix": "false"}}, {"s3:prefix": [""]}, True),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": ["false"]}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:sts::*:assumed-role/c360-*"}},
     {"aws:PrincipalArn": ["arn:aws:sts::123456789012:assumed-role/c360-glue/run"]}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},  # a wildcard does not cross the ARN's ":" parts
     {"aws:PrincipalArn": ["arn:aws:sts::123456789012:assumed-role/c360-glue/run"]}, False),
    ({"ForAnyValue:StringLike": {"aws:TagKeys": ["env*"]}}, {"aws:TagKeys": ["owner", "env"]}, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": ["env*"]}}, {"aws:TagKeys": ["owner", "env"]}, False),
    ({"ForAllValues:StringLike": {"aws:TagKeys": ["env*"]}}, {}, True),  # for all of no values
    ({"StringEquals": {"s3:prefix": "a"}, "StringLike": {"s3:prefix": "a*"}}, {"s3:prefix": ["a"]}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ["5"]}, False),  # unknown operator: fail closed
])
def test_condition_operators(condition, context, expected):
    policy = _allow({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET, "Condition": condition})
    assert bool(evaluate(policy, "s3:ListBucket", BUCKET, context)) is expected


def test_condition_keys_are_case_insensitive_and_values_are_not():
    policy = _allow({"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                     "Condition": {"StringEquals": {"CloudWatch:Namespace": "Customer360"}}})
    assert evaluate(policy, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ["Customer360"]})
    assert not evaluate(policy, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ["CUSTOMER360"]})


def test_trust_policy_names_the_service_that_may_assume_the_role():
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "glue.amazonaws.com"}}]}
    assert _trusts(trust, "glue.amazonaws.com")
    assert not _trusts(trust, "lambda.amazonaws.com")


REGION, ACCOUNT = "us-east-1", "123456789012"


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    settings = config.Settings(config.LOCAL, REGION, None, "http://127.0.0.1:1", tmp_path_factory.mktemp("state"))
    prov = Provisioner(ProvisionConfig(env="c360-iam", bucket="lake"), settings, Path("."), dry_run=True)
    prov.account = ACCOUNT
    return prov.lambda_policy(), prov.glue_policy(), prov

TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"


def test_the_provisioned_policies_grant_their_steps_requests(policies):
    lam, glue, prov = policies
    table = f"{TABLE}{prov.cfg.table}"
    for policy, action, resource, context in [
        (lam, "s3:GetObjectVersion", f"{BUCKET}/raw/customer_details/a.xml", {}),
        (lam, "s3:DeleteObjectVersion", f"{BUCKET}/raw/customer_details/a.xml", {}),
        (lam, "s3:PutObject", f"{BUCKET}/validated/customer_details/a.xml", {}),
        (lam, "s3:PutObject", f"{BUCKET}/error/customer_details/a.xml.error.json", {}),
        (lam, "s3:ListBucket", BUCKET, {"s3:prefix": ["validated/customer_details/a.xml"]}),
        (lam, "dynamodb:UpdateItem", table, {}),
        (lam, "dynamodb:Query", prov.ledger_index_arn, {}),
        (lam, "glue:StartJobRun", f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{prov.cfg.name('customer360-etl')}", {}),
        (lam, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ["Customer360"]}),
        (glue, "s3:GetObject", f"{BUCKET}/jobs/customer360_etl.py", {}),
        (glue, "s3:GetObject", f"{BUCKET}/review/decisions/0a1b.json", {}),
        (glue, "s3:DeleteObject", f"{BUCKET}/curated/customers/part-0.parquet", {}),
        (glue, "s3:ListBucket", BUCKET, {"s3:prefix": ["curated/_state/"]}),
        (glue, "secretsmanager:GetSecretValue",
         f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prov.cfg.name('rds-master')}-AbCdEf", {}),
        (glue, "logs:PutLogEvents",
         f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{prov.job_log_group}:log-stream:jr_1", {}),
    ]:
        assert evaluate([policy], action, resource, context), (action, resource)


def test_the_provisioned_policies_deny_what_sits_next_to_their_grants(policies):
    lam, glue, prov = policies
    other_table = f"{TABLE}someone-elses-table"
    for policy, action, resource, context in [
        (lam, "s3:PutObject", f"{BUCKET}/curated/customers/x.parquet", {}),  # the Lambda writing curated/
        (lam, "s3:ListBucket", BUCKET, {"s3:prefix": ["curated/"]}),
        (lam, "s3:GetObject", "arn:aws:s3:::another-bucket/raw/a.xml", {}),
        (lam, "dynamodb:GetItem", other_table, {}),  # reading another table
        (lam, "dynamodb:Scan", f"{TABLE}{prov.cfg.table}", {}),
        (lam, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:x", {}),
        (lam, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ["AWS/Lambda"]}),
        (glue, "s3:DeleteObject", f"{BUCKET}/raw/customer_details/a.xml", {}),  # the job deleting raw/
        (glue, "s3:PutObject", f"{BUCKET}/validated/customer_details/a.xml", {}),
        (glue, "s3:PutObject", f"{BUCKET}/review/decisions/0a1b.json", {}),  # reads decisions, never writes them
        (glue, "s3:ListBucket", BUCKET, {"s3:prefix": ["raw/"]}),
        (glue, "s3:ListBucket", BUCKET, {"s3:prefix": [""]}),
        (glue, "dynamodb:GetItem", other_table, {}),  # reading another table
        (glue, "dynamodb:DeleteItem", f"{TABLE}{prov.cfg.table}", {}),
        (glue, "glue:StartJobRun", f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{prov.cfg.name('customer360-etl')}", {}),
        (glue, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:y", {}),
    ]:
        assert not evaluate([policy], action, resource, context), (action, resource)
