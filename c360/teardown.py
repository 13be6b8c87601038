"""What 99_teardown runs: delete everything the notebooks created, tolerate what is already gone, then check.

Driven by the outputs file that 00_provision wrote (and 40_dashboards extends with QuickSight objects), with
the names derived from the same `ProvisionConfig` as a fallback, so a half-provisioned account is cleaned too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from c360 import aws, config
from c360.provision import ProvisionConfig, _get, is_not_found
from c360.reconcile import ACTIVE


@dataclass
class Teardown:
    cfg: ProvisionConfig
    settings: config.Settings
    outputs: dict = field(default_factory=dict)
    steps: list[tuple[str, str, str]] = field(default_factory=list)

    def client(self, service: str):
        return aws.client(service, self.settings)

    def _do(self, kind: str, name: str, fn) -> None:
        try:
            fn()
            self.steps.append((kind, name, "deleted"))
        except ClientError as e:
            if not is_not_found(e):
                raise
            self.steps.append((kind, name, "already gone"))

    def names(self) -> dict:
        c, o = self.cfg, self.outputs
        return {
            "bucket": o.get("bucket", c.bucket), "table": o.get("table", c.table),
            "function": o.get("function_name", c.name("validate")), "queue": c.name("validate-dlq"),
            "job": o.get("glue_job", c.name("customer360-etl")), "rule": o.get("rule", c.name("glue-job-failed")),
            "sweep_rule": o.get("sweep_rule", c.name("glue-run-succeeded")),
            "topic": o.get("topic_arn"), "secret": o.get("secret_id", c.name("rds-master")),
            "db": o.get("db_instance", c.db_instance), "roles": [c.name("lambda-validate"), c.name("glue-etl")],
            "alarms": o.get("alarms") or [c.name(s) for s in ("lambda-errors", "rds-write-failures",
                                                              "dq-failure-percent", "dlq-depth")],
            "log_groups": o.get("log_groups") or [f"/aws/lambda/{c.name('validate')}",
                                                  f"/aws-glue/jobs/{c.name('customer360-etl')}"],
            "connection": o.get("glue_connection"), "security_group": o.get("db_security_group"),
            "quicksight": o.get("quicksight", {}),
        }

    def run(self) -> list[tuple[str, str, str]]:
        n = self.names()
        cw, events, lam, s3 = self.client("cloudwatch"), self.client("events"), self.client("lambda"), self.client("s3")
        self._do("cloudwatch alarms", ", ".join(n["alarms"]), lambda: cw.delete_alarms(AlarmNames=n["alarms"]))
        for rule in (n["rule"], n["sweep_rule"]):
            targets = _get(lambda rule=rule: events.list_targets_by_rule(Rule=rule)["Targets"]) or []
            if targets:
                events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])
            self._do("eventbridge rule", rule, lambda rule=rule: events.delete_rule(Name=rule))
        if _get(lambda: s3.head_bucket(Bucket=n["bucket"])) is not None:
            s3.put_bucket_notification_configuration(Bucket=n["bucket"], NotificationConfiguration={})
        self._do("lambda permission", "s3-raw-trigger",
                 lambda: lam.remove_permission(FunctionName=n["function"], StatementId="s3-raw-trigger"))
        self._do("lambda function", n["function"], lambda: lam.delete_function(FunctionName=n["function"]))
        sqs = self.client("sqs")
        url = _get(lambda: sqs.get_queue_url(QueueName=n["queue"])["QueueUrl"])
        if url:
            self._do("sqs queue", n["queue"], lambda: sqs.delete_queue(QueueUrl=url))
        else:
            self.steps.append(("sqs queue", n["queue"], "already gone"))
        glue = self.client("glue")
        self._stop_runs(glue, n["job"])  # a run finishing later would write to a log group deleted below
        self._do("glue job", n["job"], lambda: glue.delete_job(JobName=n["job"]))
        if n["connection"]:
            self._do("glue connection", n["connection"], lambda: glue.delete_connection(ConnectionName=n["connection"]))
        rds = self.client("rds")
        self._do("rds instance", n["db"], lambda: rds.delete_db_instance(
            DBInstanceIdentifier=n["db"], SkipFinalSnapshot=True, DeleteAutomatedBackups=True))
        if self.settings.target == config.AWS and _get(lambda: rds.describe_db_instances(
                DBInstanceIdentifier=n["db"])):
            rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=n["db"])
        sm = self.client("secretsmanager")
        self._do("secret", n["secret"], lambda: sm.delete_secret(SecretId=n["secret"],
                                                                ForceDeleteWithoutRecovery=True))
        if n["security_group"]:
            ec2 = self.client("ec2")
            self._do("security group", n["security_group"],
                     lambda: ec2.delete_security_group(GroupId=n["security_group"]))
        ddb = self.client("dynamodb")
        self._do("dynamodb table", n["table"], lambda: ddb.delete_table(TableName=n["table"]))
        sns = self.client("sns")
        topic = n["topic"] or next((t["TopicArn"] for t in sns.list_topics().get("Topics", [])
                                    if t["TopicArn"].endswith(":" + self.cfg.name("alerts"))), None)
        if topic:
            for sub in _get(lambda: sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) or []:
                if sub["SubscriptionArn"].startswith("arn:"):
                    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
            self._do("sns topic", topic, lambda: sns.delete_topic(TopicArn=topic))
        iam = self.client("iam")
        for role in n["roles"]:
            for p in _get(lambda r=role: iam.list_role_policies(RoleName=r)["PolicyNames"]) or []:
                iam.delete_role_policy(RoleName=role, PolicyName=p)
            self._do("iam role", role, lambda r=role: iam.delete_role(RoleName=r))
        qs = n["quicksight"]
        if qs:
            quick = self.client("quicksight")
            account = self.client("sts").get_caller_identity()["Account"]
            for kind, ids in (("dashboard", qs.get("dashboards", [])), ("data_set", qs.get("data_sets", [])),
                              ("data_source", qs.get("data_sources", []))):
                for i in ids:
                    key = {"dashboard": "DashboardId", "data_set": "DataSetId", "data_source": "DataSourceId"}[kind]
                    self._do(f"quicksight {kind}", i, lambda k=kind, key=key, i=i: getattr(
                        quick, f"delete_{k}")(AwsAccountId=account, **{key: i}))
        self._do("s3 bucket", n["bucket"], lambda: self._empty_and_delete(n["bucket"]))
        # Log groups last: an invocation already running when its function was deleted (a Glue run's SUCCEEDED
        # event that arrived just before the rule went) writes its logs when it ends, re-creating the group.
        logs = self.client("logs")
        for g in n["log_groups"]:
            self._do("log group", g, lambda g=g: logs.delete_log_group(logGroupName=g))
        self._delete_reappearing_log_groups(logs, n["log_groups"])
        return self.steps

    def _stop_runs(self, glue, job: str, timeout: float = 300) -> None:
        runs = _get(lambda: glue.get_job_runs(JobName=job)["JobRuns"]) or []
        ids = [r["Id"] for r in runs if r["JobRunState"] in ACTIVE]
        if not ids:
            return
        glue.batch_stop_job_run(JobName=job, JobRunIds=ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = _get(lambda: glue.get_job_runs(JobName=job)["JobRuns"]) or []
            if not any(r["JobRunState"] in ACTIVE for r in runs):
                break
            time.sleep(1)
        self.steps.append(("glue job runs", job, f"stopped {len(ids)}"))

    def _delete_reappearing_log_groups(self, logs, groups: list[str], quiet_s: float = 3.0,
                                       limit_s: float = 60.0) -> None:
        """Delete again any of `groups` that reappears, until none has for `quiet_s` (at most `limit_s`)."""
        start = quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s and time.monotonic() - start < limit_s:
            time.sleep(0.5)
            existing = {g["logGroupName"] for g in logs.describe_log_groups().get("logGroups", [])}
            for g in (g for g in groups if g in existing):
                logs.delete_log_group(logGroupName=g)
                self.steps.append(("log group", g, "deleted again (written by an invocation still running)"))
                quiet_since = time.monotonic()

    def _empty_and_delete(self, bucket: str) -> None:
        s3 = self.client("s3")
        s3.head_bucket(Bucket=bucket)
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(doomed), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[i:i + 1000], "Quiet": True})
        s3.delete_bucket(Bucket=bucket)

    def leftovers(self) -> list[str]:
        """What still exists after `run` (should be nothing)."""
        n, left = self.names(), []
        checks = [
            ("s3 bucket", n["bucket"], lambda: self.client("s3").head_bucket(Bucket=n["bucket"])),
            ("dynamodb table", n["table"], lambda: self.client("dynamodb").describe_table(TableName=n["table"])),
            ("lambda function", n["function"], lambda: self.client("lambda").get_function(FunctionName=n["function"])),
            ("sqs queue", n["queue"], lambda: self.client("sqs").get_queue_url(QueueName=n["queue"])),
            ("glue job", n["job"], lambda: self.client("glue").get_job(JobName=n["job"])),
            ("eventbridge rule", n["rule"], lambda: self.client("events").describe_rule(Name=n["rule"])),
            ("eventbridge rule", n["sweep_rule"],
             lambda: self.client("events").describe_rule(Name=n["sweep_rule"])),
            ("rds instance", n["db"], lambda: self.client("rds").describe_db_instances(DBInstanceIdentifier=n["db"])),
            ("secret", n["secret"], lambda: self.client("secretsmanager").describe_secret(SecretId=n["secret"])),
        ]
        checks += [("iam role", r, lambda r=r: self.client("iam").get_role(RoleName=r)) for r in n["roles"]]
        if n["quicksight"]:
            qs = self.client("quicksight")
            account = self.client("sts").get_caller_identity()["Account"]
            for kind, key in (("dashboard", "DashboardId"), ("data_set", "DataSetId"), ("data_source", "DataSourceId")):
                checks += [(f"quicksight {kind}", i, lambda k=kind, key=key, i=i: getattr(qs, f"describe_{k}")(
                    AwsAccountId=account, **{key: i})) for i in n["quicksight"].get(f"{kind}s", [])]
        for kind, name, fn in checks:
            if _get(fn) is not None:
                left.append(f"{kind} {name}")
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=n["alarms"]).get("MetricAlarms", [])
        left += [f"cloudwatch alarm {a['AlarmName']}" for a in alarms]
        topics = [t["TopicArn"] for t in self.client("sns").list_topics().get("Topics", [])
                  if t["TopicArn"].endswith(":" + self.cfg.name("alerts"))]
        left += [f"sns topic {t}" for t in topics]
        groups = self.client("logs").describe_log_groups().get("logGroups", [])
        left += [f"log group {g['logGroupName']}" for g in groups if g["logGroupName"] in n["log_groups"]]
        return left
