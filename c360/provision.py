"""What 00_provision creates and 99_teardown deletes: every resource of the pipeline, idempotently.

Each `ensure_*` step looks first, creates what is missing, corrects what differs, and reports per resource
`created`, `updated` or `unchanged`; re-running the notebook changes nothing and says so. The same calls
serve the local emulator and a real account (clients from `c360.aws`). The AWS-only parts (the database's
security group and the Glue connection into its VPC) are in `ensure_network`, run only for `target="aws"`.

`dry_run=True` checks every request with botocore's own parameter validation and sends nothing: read calls
answer "not found", write calls answer nothing, so the plan shows every create it would make.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from c360 import aws, config, shipped

DATASETS = ("customer_details", "purchases", "feedback")
ZONES = ("raw", "validated", "error")
NAMESPACE = "Customer360"


@dataclass
class ProvisionConfig:
    env: str = "c360-dev"  # name prefix of every resource this creates (bucket and table names are explicit)
    bucket: str = "customer-360-datalake"
    table: str = "Customer360_table"
    alert_email: str = "data-team@example.com"
    glue_worker_type: str = "G.1X"
    glue_workers: int = 2
    glue_timeout_minutes: int = 60
    db_instance: str = "customer360"  # one per env: two envs in one account need two names
    db_name: str = "customer360"
    db_user: str = "c360_admin"
    db_class: str = "db.t3.micro"
    log_retention_days: int = 14
    noncurrent_version_days: int = 30
    lambda_zip: str = "build/lambda.zip"
    glue_script: str = "exported_jobs/customer360_etl.py"
    # shipped with --extra-py-files: every other module in the script's folder (the step modules exported from
    # 20_glue_etl, the load from 30_load_rds), and these: the ledger protocol (from 10_validate), whose Queries on the
    # ledger's index find the job's files
    glue_modules_dir: str = "exported_jobs"
    glue_extra_modules: tuple[str, ...] = ("lambda/ledger.py",)
    additional_python_modules: str = ("textblob==0.20.1,email-validator==2.4.0,phonenumbers==9.0.43,"
                                      "psycopg[binary]==3.3.9,splink==5.0.0,nicknames==1.0.1")
    # aws only: where the database lives (ids of your VPC's private subnets and the VPC)
    vpc_id: str = ""
    subnet_ids: tuple[str, ...] = ()

    def name(self, suffix: str) -> str:
        return f"{self.env}-{suffix}"

    @property
    def tags(self) -> dict[str, str]:
        return {"project": "customer360", "environment": self.env, "managed-by": "00_provision"}


@dataclass
class Step:
    kind: str
    name: str
    action: str  # created | updated | unchanged | would create | deleted | absent
    arn: str = ""
    detail: str = ""


@dataclass
class Provisioner:
    cfg: ProvisionConfig
    settings: config.Settings
    root: Path
    dry_run: bool = False
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self._clients: dict[str, Any] = {}
        self.account = "000000000000" if self.dry_run else self.client("sts").get_caller_identity()["Account"]
        self.region = self.settings.region

    # ------------------------------------------------------------------ plumbing
    def client(self, service: str):
        if service not in self._clients:
            c = aws.client(service, self.settings)
            if self.dry_run:
                c.meta.events.register("before-call.*.*", _dry_run_answer)
            self._clients[service] = c
        return self._clients[service]

    def record(self, kind: str, name: str, action: str, arn: str = "", detail: str = "") -> Step:
        if self.dry_run and action in ("created", "updated"):
            action = f"would {action[:-1]}"
        step = Step(kind, name, action, arn, detail)
        self.steps.append(step)
        return step

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if service != 's3' else ''}:{resource}"

    # ------------------------------------------------------------------ S3
    def ensure_bucket(self) -> None:
        s3, b = self.client("s3"), self.cfg.bucket
        action = "unchanged"
        try:
            s3.head_bucket(Bucket=b)
        except ClientError:
            kwargs = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            s3.create_bucket(Bucket=b, **kwargs)
            action = "created"
        changed = []
        if _get(lambda: s3.get_bucket_versioning(Bucket=b).get("Status")) != "Enabled":
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
            changed.append("versioning")
        sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                          "BucketKeyEnabled": True}]}
        have = _get(lambda: s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"])
        if not have or have.get("Rules", [{}])[0].get("ApplyServerSideEncryptionByDefault") != \
                sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]:
            s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=sse)
            changed.append("encryption")
        block = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
        if _get(lambda: s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]) != block:
            s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=block)
            changed.append("public access block")
        lifecycle = [{"ID": "expire-noncurrent-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
                      "NoncurrentVersionExpiration": {"NoncurrentDays": self.cfg.noncurrent_version_days}}]
        have_rules = _get(lambda: s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]) or []
        if [(r.get("ID"), r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")) for r in have_rules] != \
                [("expire-noncurrent-versions", self.cfg.noncurrent_version_days)]:
            s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": lifecycle})
            changed.append("lifecycle")
        tagset = [{"Key": k, "Value": v} for k, v in sorted(self.cfg.tags.items())]
        have_tags = _get(lambda: s3.get_bucket_tagging(Bucket=b)["TagSet"]) or []
        if sorted((t["Key"], t["Value"]) for t in have_tags) != sorted((t["Key"], t["Value"]) for t in tagset):
            s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": tagset})
            changed.append("tags")
        if action == "unchanged" and changed:
            action = "updated"
        self.record("s3 bucket", b, action, f"arn:aws:s3:::{b}", ", ".join(changed))
        made = []
        for zone in ZONES:
            for ds in DATASETS:
                key = f"{zone}/{ds}/"
                if not _exists(lambda k=key: s3.head_object(Bucket=b, Key=k)):
                    s3.put_object(Bucket=b, Key=key, Body=b"")
                    made.append(key)
        self.record("s3 prefixes", f"{b}/{{raw,validated,error}}/{{{','.join(DATASETS)}}}/",
                    "created" if made else "unchanged", detail=f"{len(made)} folder markers" if made else "")
        self.outputs["bucket"] = b

    def upload(self, key: str, body: bytes, kind: str) -> None:
        s3 = self.client("s3")
        current = _get(lambda: s3.get_object(Bucket=self.cfg.bucket, Key=key)["Body"].read())
        if current == body:
            self.record(kind, f"s3://{self.cfg.bucket}/{key}", "unchanged")
            return
        s3.put_object(Bucket=self.cfg.bucket, Key=key, Body=body)
        self.record(kind, f"s3://{self.cfg.bucket}/{key}", "created" if current is None else "updated")

    # ------------------------------------------------------------------ DynamoDB
    def ensure_table(self, index_timeout_s: float = 3600) -> None:
        """The ledger table (key record_id, on demand) with its index status-received_at (lambda/ledger.py: PENDING
        files are found by a Query on it). A table made before the index gets it added (UpdateTable); either way
        this returns once the index is ACTIVE (on AWS, adding it to a large table backfills for minutes)."""
        ledger = shipped.lambda_module("ledger")
        ddb, t = self.client("dynamodb"), self.cfg.table
        index = ledger.index_definition()
        detail = f"index {ledger.INDEX_NAME} ({', '.join(ledger.INDEX_KEYS)})"
        desc = _get(lambda: ddb.describe_table(TableName=t)["Table"])
        if desc is None:
            desc = ddb.create_table(
                TableName=t, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": ledger.KEY, "KeyType": "HASH"}],
                AttributeDefinitions=ledger.attribute_definitions(), GlobalSecondaryIndexes=[index],
                Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()]).get("TableDescription", {})
            action = "created"
        else:
            key = [(k["AttributeName"], k["KeyType"]) for k in desc["KeySchema"]]
            if key != [(ledger.KEY, "HASH")]:
                raise RuntimeError(f"table {t} exists with key {key}, expected {ledger.KEY} (HASH): delete it or "
                                   "choose another table name")
            have = next((g for g in desc.get("GlobalSecondaryIndexes", []) if g["IndexName"] == ledger.INDEX_NAME),
                        None)
            if have is None:
                billing = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
                if billing != "PAY_PER_REQUEST":  # its index would need a throughput of its own
                    raise RuntimeError(f"table {t} is {billing}, not PAY_PER_REQUEST: switch it to on-demand "
                                       f"(update-table --billing-mode PAY_PER_REQUEST), then run this again to add "
                                       f"index {ledger.INDEX_NAME}")
                defined = {a["AttributeName"] for a in desc.get("AttributeDefinitions", [])}
                ddb.update_table(TableName=t, AttributeDefinitions=desc.get("AttributeDefinitions", []) + [
                    a for a in ledger.attribute_definitions() if a["AttributeName"] not in defined],
                    GlobalSecondaryIndexUpdates=[{"Create": index}])
                action, detail = "updated", f"{detail} added to the existing table"
            elif have["KeySchema"] != index["KeySchema"] or \
                    have.get("Projection", {}).get("ProjectionType") != index["Projection"]["ProjectionType"]:
                raise RuntimeError(f"table {t} has an index {ledger.INDEX_NAME} with keys {have['KeySchema']} and "
                                   f"projection {have.get('Projection')}, expected {index['KeySchema']} and ALL: "
                                   "delete that index (update-table ... Delete), then run this again")
            else:
                action = "unchanged"
        if not self.dry_run:
            self._wait_for_index(ddb, t, ledger.INDEX_NAME, index_timeout_s)
        self.record("dynamodb table", t, action, desc.get("TableArn", self.arn("dynamodb", f"table/{t}")), detail)
        self.outputs["table"] = t
        self.outputs["table_arn"] = self.arn("dynamodb", f"table/{t}")
        self.outputs["table_index"] = ledger.INDEX_NAME

    @staticmethod
    def _wait_for_index(ddb, table: str, index: str, timeout_s: float) -> None:
        """Until the table and its index are ACTIVE (a new index is CREATING while DynamoDB backfills it)."""
        deadline, state = time.monotonic() + timeout_s, None
        while True:
            desc = ddb.describe_table(TableName=table)["Table"]
            gsi = next((g for g in desc.get("GlobalSecondaryIndexes", []) if g["IndexName"] == index), {})
            state = (desc.get("TableStatus"), gsi.get("IndexStatus"))
            if state == ("ACTIVE", "ACTIVE"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {table} / index {index} still {state} after {timeout_s:.0f} s: run "
                                   "this again later (it waits for the index, and creates nothing twice)")
            time.sleep(5)

    # ------------------------------------------------------------------ SNS, SQS
    def ensure_topic(self) -> None:
        sns, name = self.client("sns"), self.cfg.name("alerts")
        arn = self.arn("sns", name)
        existed = _exists(lambda: sns.get_topic_attributes(TopicArn=arn))
        arn = sns.create_topic(Name=name, Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()]).get(
            "TopicArn", arn)  # create_topic is idempotent by name
        self.record("sns topic", name, "unchanged" if existed else "created", arn)
        subs = _get(lambda: sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) or []
        if any(s["Protocol"] == "email" and s["Endpoint"] == self.cfg.alert_email for s in subs):
            self.record("sns subscription", f"email:{self.cfg.alert_email}", "unchanged")
        else:
            sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=self.cfg.alert_email)
            self.record("sns subscription", f"email:{self.cfg.alert_email}", "created",
                        detail="on AWS, confirm it from the e-mail")
        self.outputs["topic_arn"] = arn

    def ensure_queue(self) -> None:
        sqs, name = self.client("sqs"), self.cfg.name("validate-dlq")
        url = _get(lambda: sqs.get_queue_url(QueueName=name)["QueueUrl"])
        action = "unchanged"
        if url is None:
            url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "1209600",
                                                               "SqsManagedSseEnabled": "true"},
                                   tags=self.cfg.tags).get("QueueUrl", f"https://sqs/{name}")
            action = "created"
        arn = self.arn("sqs", name)
        self.record("sqs queue", name, action, arn, "the Lambda's on-failure destination")
        self.outputs["dlq_url"], self.outputs["dlq_arn"] = url, arn

    # ------------------------------------------------------------------ IAM
    def lambda_policy(self) -> dict:
        b, fn = self.cfg.bucket, self.cfg.name("validate")
        s3 = f"arn:aws:s3:::{b}"
        return _policy(
            ("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"],
             [self.arn("logs", f"log-group:/aws/lambda/{fn}:*")]),
            ("ReadAndMoveRaw", ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"],
             [f"{s3}/raw/*"]),
            ("WriteValidatedAndError", ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
             [f"{s3}/validated/*", f"{s3}/error/*"]),
            ("ListOwnPrefixes", ["s3:ListBucket"], [s3],
             {"StringLike": {"s3:prefix": ["raw/*", "validated/*", "error/*"]}}),
            ("Ledger", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
             [self.arn("dynamodb", f"table/{self.cfg.table}")]),
            ("LedgerPendingIndex", ["dynamodb:Query"], [self.ledger_index_arn]),
            ("StartGlue", ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns"],
             [self.arn("glue", f"job/{self.cfg.name('customer360-etl')}")]),
            ("DeadLetters", ["sqs:SendMessage"], [self.arn("sqs", self.cfg.name("validate-dlq"))]),
            ("Metrics", ["cloudwatch:PutMetricData"], ["*"], {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}),
        )

    def glue_policy(self) -> dict:
        s3 = f"arn:aws:s3:::{self.cfg.bucket}"
        return _policy(
            ("ReadInputsAndCode", ["s3:GetObject"],
             [f"{s3}/validated/*", f"{s3}/jobs/*", f"{s3}/jars/*", f"{s3}/schemas/*"]),
            ("ReadReviewDecisions", ["s3:GetObject"], [f"{s3}/review/decisions/*"]),  # c360 identity review
            ("WriteCurated", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [f"{s3}/curated/*"]),
            ("ListOwnPrefixes", ["s3:ListBucket"], [s3],
             {"StringLike": {"s3:prefix": ["validated/*", "curated/*", "jobs/*", "jars/*", "schemas/*",
                                           "review/decisions/*"]}}),
            ("Ledger", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
             [self.arn("dynamodb", f"table/{self.cfg.table}")]),
            ("LedgerPendingIndex", ["dynamodb:Query"], [self.ledger_index_arn]),  # the job finds its files by it
            ("DatabaseSecret", ["secretsmanager:GetSecretValue"],
             [self.arn("secretsmanager", f"secret:{self.cfg.name('rds-master')}-*")]),
            ("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"],
             [self.arn("logs", f"log-group:{self.job_log_group}:*")]),
            ("Metrics", ["cloudwatch:PutMetricData"], ["*"], {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}),
        )

    @property
    def ledger_index_arn(self) -> str:
        """The ledger's index (lambda/ledger.py), the only thing either role queries."""
        return self.arn("dynamodb", f"table/{self.cfg.table}/index/{shipped.lambda_module('ledger').INDEX_NAME}")

    @property
    def job_log_group(self) -> str:
        """The Glue job's own log group (continuous logging), so its retention and deletion are ours to set."""
        return f"/aws-glue/jobs/{self.cfg.name('customer360-etl')}"

    def ensure_role(self, suffix: str, service: str, policy: dict) -> str:
        iam, name = self.client("iam"), self.cfg.name(suffix)
        trust = _policy(("Trust", ["sts:AssumeRole"], None, None, {"Service": f"{service}.amazonaws.com"}))
        role = _get(lambda: iam.get_role(RoleName=name)["Role"])
        action = "unchanged"
        if role is None:
            role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                   Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()]).get("Role", {})
            action = "created"
        have = _get(lambda: iam.get_role_policy(RoleName=name, PolicyName="least-privilege")["PolicyDocument"])
        if isinstance(have, str):
            have = json.loads(have)
        if have != policy:
            iam.put_role_policy(RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(policy))
            action = "updated" if action == "unchanged" else action
        arn = role.get("Arn") or f"arn:aws:iam::{self.account}:role/{name}"
        self.record("iam role", name, action, arn, "inline policy least-privilege")
        self.outputs.setdefault("policies", {})[name] = policy
        return arn

    # ------------------------------------------------------------------ logs
    def ensure_log_group(self, name: str) -> None:
        logs = self.client("logs")
        groups = _get(lambda: logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]) or []
        group = next((g for g in groups if g["logGroupName"] == name), None)
        action = "unchanged"
        if group is None:
            logs.create_log_group(logGroupName=name, tags=self.cfg.tags)
            action = "created"
        if (group or {}).get("retentionInDays") != self.cfg.log_retention_days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=self.cfg.log_retention_days)
            action = "updated" if action == "unchanged" else action
        self.record("log group", name, action, detail=f"retention {self.cfg.log_retention_days} days")
        groups = self.outputs.setdefault("log_groups", [])
        if name not in groups:
            groups.append(name)

    # ------------------------------------------------------------------ Lambda
    def ensure_function(self, role_arn: str) -> None:
        lam, name = self.client("lambda"), self.cfg.name("validate")
        zip_path = self.root / self.cfg.lambda_zip
        if not zip_path.is_file():
            raise FileNotFoundError(f"{zip_path} not found: run `make lambda-zip` first")
        code = zip_path.read_bytes()
        env = {"Variables": {"LEDGER_TABLE": self.cfg.table, "BUCKET": self.cfg.bucket,
                             "GLUE_JOB_NAME": self.cfg.name("customer360-etl"), "METRICS_NAMESPACE": NAMESPACE}}
        self.ensure_log_group(f"/aws/lambda/{name}")
        fn = _get(lambda: lam.get_function(FunctionName=name))
        if fn is None:
            fn = self._create_function(lam, name, role_arn, code, env)
            action = "created"
        else:
            conf = fn["Configuration"]
            action = "unchanged"
            if conf.get("CodeSha256") != base64.b64encode(hashlib.sha256(code).digest()).decode():
                lam.update_function_code(FunctionName=name, ZipFile=code)
                action = "updated"
            if conf.get("Environment", {}).get("Variables") != env["Variables"] or conf.get("Role") != role_arn:
                lam.update_function_configuration(FunctionName=name, Environment=env, Role=role_arn)
                action = "updated"
        arn = self.arn("lambda", f"function:{name}")
        self.record("lambda function", name, action, arn, "handler.lambda_handler, python3.12")
        cfg = _get(lambda: lam.get_function_event_invoke_config(FunctionName=name))
        dest = {"OnFailure": {"Destination": self.outputs["dlq_arn"]}}
        if not cfg or cfg.get("DestinationConfig", {}).get("OnFailure") != dest["OnFailure"]:
            lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, DestinationConfig=dest)
            self.record("lambda on-failure destination", name, "created", self.outputs["dlq_arn"])
        else:
            self.record("lambda on-failure destination", name, "unchanged", self.outputs["dlq_arn"])
        policy = _get(lambda: json.loads(lam.get_policy(FunctionName=name)["Policy"])) or {}
        if any(s.get("Sid") == "s3-raw-trigger" for s in policy.get("Statement", [])):
            self.record("lambda permission", "s3-raw-trigger", "unchanged")
        else:
            lam.add_permission(FunctionName=name, StatementId="s3-raw-trigger", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{self.cfg.bucket}",
                               SourceAccount=self.account)
            self.record("lambda permission", "s3-raw-trigger", "created")
        s3 = self.client("s3")
        want = {"LambdaFunctionConfigurations": [{
            "Id": "raw-object-created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"}]}}}]}
        have = _get(lambda: s3.get_bucket_notification_configuration(Bucket=self.cfg.bucket)) or {}
        have_fns = [(c.get("Id"), c.get("LambdaFunctionArn")) for c in have.get("LambdaFunctionConfigurations", [])]
        if have_fns == [("raw-object-created", arn)]:
            self.record("s3 trigger", "raw/ -> " + name, "unchanged")
        else:
            s3.put_bucket_notification_configuration(Bucket=self.cfg.bucket, NotificationConfiguration=want)
            self.record("s3 trigger", "raw/ -> " + name, "created")
        self.outputs["function_name"], self.outputs["function_arn"] = name, arn

    def _create_function(self, lam, name, role_arn, code, env):
        for attempt in range(10):  # on AWS a new role takes seconds before Lambda may assume it
            try:
                return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role_arn,
                                           Handler="handler.lambda_handler", Code={"ZipFile": code}, Timeout=300,
                                           MemorySize=512, Environment=env, Tags=self.cfg.tags,
                                           Architectures=["x86_64"])
            except ClientError as e:
                if "cannot be assumed" not in str(e) or attempt == 9:
                    raise
                time.sleep(3)
        return None

    # ------------------------------------------------------------------ Glue
    def ensure_job(self, role_arn: str) -> None:
        glue, name = self.client("glue"), self.cfg.name("customer360-etl")
        script_key = f"jobs/{Path(self.cfg.glue_script).name}"
        self.upload(script_key, (self.root / self.cfg.glue_script).read_bytes(), "glue script")
        modules = []
        shipped_files = [m for m in sorted((self.root / self.cfg.glue_modules_dir).glob("*.py"))
                         if m.name != Path(self.cfg.glue_script).name]
        shipped_files += [self.root / m for m in self.cfg.glue_extra_modules]
        if len({m.name for m in shipped_files}) != len(shipped_files):
            raise ValueError(f"two Glue modules share a name (each goes to jobs/<name>): {shipped_files}")
        for m in shipped_files:
            key = f"jobs/{m.name}"
            self.upload(key, m.read_bytes(), "glue module")
            modules.append(f"s3://{self.cfg.bucket}/{key}")
        # Splink's string-similarity functions for Spark (--identity probabilistic), from the installed splink wheel
        from splink.backends.spark import similarity_jar_location

        jar = Path(similarity_jar_location())
        jar_key = f"jars/{jar.name}"
        self.upload(jar_key, jar.read_bytes(), "Spark jar")
        for schema in sorted((self.root / "schemas").glob("*")):
            if schema.is_file():
                self.upload(f"schemas/{schema.name}", schema.read_bytes(), "schema file")
        self.ensure_log_group(self.job_log_group)
        spec = {
            "Role": role_arn, "GlueVersion": "6.0", "WorkerType": self.cfg.glue_worker_type,
            "NumberOfWorkers": self.cfg.glue_workers, "Timeout": self.cfg.glue_timeout_minutes,
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "Command": {"Name": "glueetl", "ScriptLocation": f"s3://{self.cfg.bucket}/{script_key}",
                        "PythonVersion": "3"},
            "DefaultArguments": {
                "--bucket": self.cfg.bucket, "--ledger_table": self.cfg.table,
                "--secret_id": self.cfg.name("rds-master"), "--extra-py-files": ",".join(modules),
                "--extra-jars": f"s3://{self.cfg.bucket}/{jar_key}",
                # each run judges its new files and what they touch (curated/_state/); `c360 full-refresh`
                # recomputes everything
                "--incremental": "true",
                "--additional-python-modules": self.cfg.additional_python_modules,
                "--enable-metrics": "true", "--enable-continuous-cloudwatch-log": "true",
                "--continuous-log-logGroup": self.job_log_group,
                "--job-language": "python"},
        }
        if self.settings.target == config.AWS and self.outputs.get("glue_connection"):
            spec["Connections"] = {"Connections": [self.outputs["glue_connection"]]}
        job = _get(lambda: glue.get_job(JobName=name)["Job"])
        if job is None:
            glue.create_job(Name=name, Tags=self.cfg.tags, **spec)
            action = "created"
        else:
            same = all(job.get(k) == v for k, v in spec.items())
            action = "unchanged"
            if not same:
                try:
                    glue.update_job(JobName=name, JobUpdate=spec)
                except ClientError as e:  # the local emulator lacks UpdateJob: replace the job instead
                    if "not yet implemented" not in str(e) and "NotImplemented" not in str(e):
                        raise
                    glue.delete_job(JobName=name)
                    glue.create_job(Name=name, Tags=self.cfg.tags, **spec)
                action = "updated"
        self.record("glue job", name, action, self.arn("glue", f"job/{name}"),
                    f"Glue 6.0, {self.cfg.glue_workers} x {self.cfg.glue_worker_type}")
        self.outputs["glue_job"] = name

    # ------------------------------------------------------------------ RDS and its secret
    def ensure_database(self) -> None:
        sm, rds = self.client("secretsmanager"), self.client("rds")
        secret_name = self.cfg.name("rds-master")
        secret = _get(lambda: json.loads(sm.get_secret_value(SecretId=secret_name)["SecretString"]))
        db = _get(lambda: rds.describe_db_instances(DBInstanceIdentifier=self.cfg.db_instance)["DBInstances"][0])
        if secret is None and db is not None:  # made with another secret's password: a new one would never connect
            raise RuntimeError(
                f"RDS instance {self.cfg.db_instance} already exists, but this env's secret {secret_name} does not: "
                "a new secret's password would not be the instance's. Another env in this account may own the "
                f"instance: give this env its own (00_provision's db_instance parameter, e.g. "
                f"db_instance=\"{self.cfg.name('db')}\"); or, if it is this env's and its secret was lost, delete the "
                "instance or recreate the secret with the instance's master password.")
        if secret is None:
            secret = {"engine": "postgres", "username": self.cfg.db_user, "dbname": self.cfg.db_name,
                      "password": secrets.token_urlsafe(24)}
            arn = sm.create_secret(Name=secret_name, SecretString=json.dumps(secret),
                                   Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()]).get("ARN", "")
            self.record("secret", secret_name, "created", arn, "database master credentials")
            created = True
        else:
            created = False
            arn = sm.describe_secret(SecretId=secret_name).get("ARN", "")
            self.record("secret", secret_name, "unchanged", arn)
        if db is None:
            kwargs = {}
            if self.settings.target == config.AWS:
                kwargs.update(PubliclyAccessible=False, StorageEncrypted=True,
                              VpcSecurityGroupIds=[self.outputs["db_security_group"]] if self.outputs.get(
                                  "db_security_group") else [])
            db = rds.create_db_instance(
                DBInstanceIdentifier=self.cfg.db_instance, Engine="postgres", EngineVersion="15",
                DBInstanceClass=self.cfg.db_class, AllocatedStorage=20, MasterUsername=secret["username"],
                MasterUserPassword=secret["password"], DBName=self.cfg.db_name, BackupRetentionPeriod=7,
                Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()], **kwargs).get("DBInstance", {})
            action = "created"
        else:
            action = "unchanged"
        endpoint = db.get("Endpoint", {})
        self.record("rds instance", self.cfg.db_instance, action, db.get("DBInstanceArn", ""),
                    f"postgres at {endpoint.get('Address')}:{endpoint.get('Port')}" if endpoint else "")
        if endpoint and (secret.get("host") != endpoint.get("Address") or secret.get("port") != endpoint.get("Port")):
            secret.update(host=endpoint["Address"], port=endpoint["Port"])
            sm.put_secret_value(SecretId=secret_name, SecretString=json.dumps(secret))
            if not created:  # a new secret simply gets its endpoint; an old one was out of date
                self.record("secret", secret_name, "updated", arn, "endpoint recorded in the secret")
        self.outputs.update(secret_id=secret_name, secret_arn=arn, db_instance=self.cfg.db_instance,
                            db_name=self.cfg.db_name)

    def ensure_network(self) -> None:
        """aws only: a security group that admits the Glue connection only, and the Glue connection itself."""
        if self.settings.target != config.AWS:
            self.record("network", "security group + glue connection", "skipped", detail="aws target only")
            return
        if not self.cfg.vpc_id or not self.cfg.subnet_ids:
            raise ValueError("target aws needs vpc_id and subnet_ids (private subnets) for the database")
        ec2, glue = self.client("ec2"), self.client("glue")
        name = self.cfg.name("db")
        groups = (_get(lambda: ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [self.cfg.vpc_id]}])[
            "SecurityGroups"]) or [])
        if groups:
            sg = groups[0]["GroupId"]
            self.record("security group", name, "unchanged", sg)
        else:
            sg = ec2.create_security_group(GroupName=name, VpcId=self.cfg.vpc_id,
                                           Description="Customer 360 database: Glue connection only").get(
                "GroupId", "sg-dryrun")
            # Glue's ENIs carry the same group: allow PostgreSQL from itself, and Glue's self-referencing rule
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": sg}]},
                {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [{"GroupId": sg}]}])
            self.record("security group", name, "created", sg)
        self.outputs["db_security_group"] = sg
        conn = self.cfg.name("rds")
        if _get(lambda: glue.get_connection(Name=conn)) is None:
            glue.create_connection(ConnectionInput={
                "Name": conn, "ConnectionType": "NETWORK", "ConnectionProperties": {},
                "PhysicalConnectionRequirements": {"SubnetId": self.cfg.subnet_ids[0],
                                                   "SecurityGroupIdList": [sg]}})
            self.record("glue connection", conn, "created")
        else:
            self.record("glue connection", conn, "unchanged")
        self.outputs["glue_connection"] = conn

    # ------------------------------------------------------------------ events and alarms
    def _glue_state_rule(self, name: str, states: list[str], description: str, target: dict) -> str:
        """An EventBridge rule on this job's "Glue Job State Change" events in `states`, sending to `target`;
        returns created / updated / unchanged."""
        events = self.client("events")
        pattern = {"source": ["aws.glue"], "detail-type": ["Glue Job State Change"],
                   "detail": {"jobName": [self.cfg.name("customer360-etl")], "state": states}}
        have = _get(lambda: events.describe_rule(Name=name))
        if have and json.loads(have.get("EventPattern", "{}")) == pattern:
            action = "unchanged"
        else:
            events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED", Description=description,
                            Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()])
            action = "created" if have is None else "updated"
        targets = _get(lambda: events.list_targets_by_rule(Rule=name)["Targets"]) or []
        if not any(t["Arn"] == target["Arn"] for t in targets):
            events.put_targets(Rule=name, Targets=[target])
            action = "created" if action == "unchanged" else action
        return action

    def ensure_rule(self) -> None:
        name = self.cfg.name("glue-job-failed")
        action = self._glue_state_rule(name, ["FAILED", "TIMEOUT", "STOPPED"],
                                       "Glue job run ended FAILED, TIMEOUT or STOPPED", {
            "Id": "alerts", "Arn": self.outputs["topic_arn"],
            "InputTransformer": {
                "InputPathsMap": {"job": "$.detail.jobName", "run": "$.detail.jobRunId",
                                  "state": "$.detail.state", "message": "$.detail.message"},
                "InputTemplate": '"Glue job <job> run <run> ended <state>: <message>"'}})
        self.record("eventbridge rule", name, action, self.arn("events", f"rule/{name}"), "-> SNS alerts")
        self.outputs["rule"] = name

    def ensure_sweep_rule(self) -> None:
        """The job's SUCCEEDED runs invoke the validation Lambda, which starts another run for a file validated while
        the run was finishing (after its last look for new files, its own start refused as a concurrent run)."""
        lam, name, fn = self.client("lambda"), self.cfg.name("glue-run-succeeded"), self.outputs["function_name"]
        rule_arn = self.arn("events", f"rule/{name}")
        action = self._glue_state_rule(name, ["SUCCEEDED"],
                                       "Glue job run SUCCEEDED: the validation Lambda starts a run for late files",
                                       {"Id": "validate", "Arn": self.outputs["function_arn"]})
        self.record("eventbridge rule", name, action, rule_arn, "-> validation Lambda (late PENDING files)")
        policy = _get(lambda: json.loads(lam.get_policy(FunctionName=fn)["Policy"])) or {}
        if any(st.get("Sid") == "glue-run-succeeded" for st in policy.get("Statement", [])):
            self.record("lambda permission", "glue-run-succeeded", "unchanged")
        else:
            lam.add_permission(FunctionName=fn, StatementId="glue-run-succeeded", Action="lambda:InvokeFunction",
                               Principal="events.amazonaws.com", SourceArn=rule_arn)
            self.record("lambda permission", "glue-run-succeeded", "created")
        self.outputs["sweep_rule"] = name

    def ensure_alarm(self, suffix: str, **spec) -> None:
        cw, name = self.client("cloudwatch"), self.cfg.name(suffix)
        topic = self.outputs["topic_arn"]
        want = dict(AlarmName=name, AlarmActions=[topic], OKActions=[topic], ActionsEnabled=True, **spec)
        have = _get(lambda: cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])
        same = have is not None and all(have.get(k) == v for k, v in want.items() if k not in ("Tags",))
        if not same:
            cw.put_metric_alarm(Tags=[{"Key": k, "Value": v} for k, v in self.cfg.tags.items()], **want)
        self.record("cloudwatch alarm", name, "unchanged" if same else ("created" if have is None else "updated"),
                    detail=spec.get("AlarmDescription", ""))
        self.outputs.setdefault("alarms", [])
        if name not in self.outputs["alarms"]:
            self.outputs["alarms"].append(name)

    def ensure_alarms(self) -> None:
        common = dict(Period=60, EvaluationPeriods=1, TreatMissingData="notBreaching")
        self.ensure_alarm("lambda-errors", AlarmDescription="Validation Lambda errors above 5 in a minute",
                          Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Threshold=5,
                          ComparisonOperator="GreaterThanThreshold",
                          Dimensions=[{"Name": "FunctionName", "Value": self.outputs["function_name"]}], **common)
        self.ensure_alarm("rds-write-failures", AlarmDescription="A load into PostgreSQL failed",
                          Namespace=NAMESPACE, MetricName="RdsWriteFailures", Statistic="Sum", Threshold=0,
                          ComparisonOperator="GreaterThanThreshold", **common)
        self.ensure_alarm("dq-failure-percent", AlarmDescription="More than 10% of a run's records failed DQ rules",
                          Namespace=NAMESPACE, MetricName="DqFailurePercent", Statistic="Maximum", Threshold=10,
                          ComparisonOperator="GreaterThanThreshold", **common)
        self.ensure_alarm("dlq-depth", AlarmDescription="Events the validation Lambda gave up on",
                          Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible", Statistic="Maximum",
                          Threshold=0, ComparisonOperator="GreaterThanThreshold",
                          Dimensions=[{"Name": "QueueName", "Value": self.cfg.name("validate-dlq")}], **common)


def _policy(*statements) -> dict:
    out = []
    for st in statements:
        sid, actions, resources = st[0], st[1], st[2]
        condition = st[3] if len(st) > 3 else None
        s = {"Sid": sid, "Effect": "Allow", "Action": actions}
        if len(st) > 4 and st[4]:
            s["Principal"] = st[4]
        if resources:
            s["Resource"] = resources
        if condition:
            s["Condition"] = condition
        out.append(s)
    return {"Version": "2012-10-17", "Statement": out}


def is_not_found(e: ClientError) -> bool:
    """Every service spells "does not exist" its own way; this knows the spellings we meet."""
    code = e.response.get("Error", {}).get("Code", "")
    return e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 or any(
        w in code for w in ("NotFound", "NoSuch", "NonExistent", "DoesNotExist", "EntityNotFound"))


def _get(fn):
    """fn()'s result, or None when the resource does not exist."""
    try:
        return fn()
    except ClientError as e:
        if is_not_found(e):
            return None
        raise
    except (KeyError, IndexError):
        return None


def _exists(fn) -> bool:
    return _get(fn) is not None


def _dry_run_answer(model, params, **kwargs):
    """botocore `before-call` hook: the request was validated; answer without sending it."""
    from botocore.awsrequest import AWSResponse

    if model.name.startswith(("Get", "Describe", "List", "Head")):
        raise ClientError({"Error": {"Code": "NotFound", "Message": "dry run"},
                           "ResponseMetadata": {"HTTPStatusCode": 404}}, model.name)
    return AWSResponse("https://dry-run", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}


LAMBDA_PLATFORM = ("manylinux2014_x86_64", "3.12")  # the AWS runtime the zip is built for


def vendor_wheels(root: Path, folder: Path) -> list[Path]:
    """Download requirements-lambda.txt as binary wheels for the Lambda runtime (cached in `folder`)."""
    import subprocess
    import sys

    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                    "--only-binary=:all:", "--platform", LAMBDA_PLATFORM[0], "--python-version", LAMBDA_PLATFORM[1],
                    "--implementation", "cp", "--no-deps", "-d", str(folder), "-r",
                    str(root / "requirements-lambda.txt")], check=True)
    return sorted(folder.glob("*.whl"))


def lambda_zip(root: Path, dest: Path, vendor: bool = True) -> Path:
    """The deployment zip: lambda/ (the handler and its modules), schemas/, and the vendored wheels unpacked.

    Reproducible byte for byte for the same inputs (fixed timestamps, sorted entries).
    """
    files = [(p.read_bytes(), p.relative_to(root / "lambda").as_posix())
             for p in sorted((root / "lambda").rglob("*.py")) if "__pycache__" not in p.parts]
    files += [(p.read_bytes(), f"schemas/{p.name}") for p in sorted((root / "schemas").glob("*")) if p.is_file()]
    if vendor:
        for wheel in vendor_wheels(root, dest.parent / "wheels"):
            with zipfile.ZipFile(wheel) as w:
                files += [(w.read(n), n) for n in sorted(w.namelist()) if not n.endswith("/")]
    dest.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for data, name in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    dest.write_bytes(buf.getvalue())
    return dest


def outputs_path(settings: config.Settings, env: str) -> Path:
    """Where 00_provision writes the names and ARNs that later notebooks read."""
    return settings.state_dir / "outputs" / f"{settings.target}-{env}.json"


def ensure_lambda_zip(root: Path, rel: str = "build/lambda.zip") -> Path:
    """Build the zip when it is missing or older than a file in lambda/ (make lambda-zip builds it too)."""
    dest = root / rel
    sources = [*(root / "lambda").rglob("*.py"), *(root / "schemas").glob("*"), root / "requirements-lambda.txt"]
    if not dest.is_file() or any(p.stat().st_mtime > dest.stat().st_mtime for p in sources):
        lambda_zip(root, dest)
    return dest
