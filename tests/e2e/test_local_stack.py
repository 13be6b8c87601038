"""The local stack's extensions behave: real Lambda code, S3 triggers, retries and DLQ, SNS e-mail,
EventBridge to SNS, and S3 / DynamoDB surviving down and up."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from conftest import zip_code
from helpers import body, mail_failed_glue_runs, mails, wait

from c360 import aws
from c360.local import stack

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/test-lambda"

HANDLER = (Path(__file__).parent / "fixtures" / "lambda_app.py").read_text()
# What the fixture function does (IAM is enforced): write to out-* buckets, its logs, its failed events.
FIXTURE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::out-*/*"},
    {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"},
    {"Effect": "Allow", "Action": ["sqs:SendMessage", "sns:Publish"], "Resource": "*"}]}


def _ensure_role():
    """The role functions run as; a restart of the stack drops IAM (00_provision re-creates it)."""
    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "lambda.amazonaws.com"}}]}
    try:
        iam.create_role(RoleName="test-lambda", AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_role_policy(RoleName="test-lambda", PolicyName="fixture", PolicyDocument=json.dumps(FIXTURE_POLICY))


def _function(name: str, env: dict | None = None, timeout: int = 30, **extra) -> str:
    _ensure_role()
    lam = aws.client("lambda")
    fn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                             Code={"ZipFile": zip_code({"app.py": HANDLER})}, Timeout=timeout,
                             Environment={"Variables": env or {}}, **extra)
    return fn["FunctionArn"]


def test_invoke_runs_the_real_code(local_stack):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="out-invoke")
    _function("direct", {"OUT_BUCKET": "out-invoke"})
    event = {"Records": [{"s3": {"object": {"key": "raw/x.csv"}}}]}
    resp = aws.client("lambda").invoke(FunctionName="direct", Payload=json.dumps(event), LogType="Tail")
    payload = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp
    assert payload == {"function": "direct", "remaining_ms": True, "endpoint": local_stack.endpoint_url}
    assert s3.get_object(Bucket="out-invoke", Key="seen/raw/x.csv")["Body"].read() == b"ok"
    logs = aws.client("logs").filter_log_events(logGroupName="/aws/lambda/direct")["events"]
    text = "\n".join(e["message"] for e in logs)
    assert "START RequestId" in text and "got {" in text and "REPORT RequestId" in text


def test_errors_come_back_in_lambdas_shape_and_count_as_errors(local_stack):
    _function("failing")
    resp = aws.client("lambda").invoke(FunctionName="failing", Payload=json.dumps({"fail": True}))
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "RuntimeError" and body["errorMessage"] == "asked to fail"
    stats = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Errors", Dimensions=[{"Name": "FunctionName", "Value": "failing"}],
        StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) >= 1


def test_timeout_is_enforced(local_stack):
    lam = aws.client("lambda")
    lam.create_function(FunctionName="slow", Runtime="python3.12", Role=ROLE, Handler="app.handler", Timeout=1,
                        Code={"ZipFile": zip_code({"app.py": "import time\ndef handler(e, c):\n    time.sleep(30)\n"})})
    t0 = time.monotonic()
    resp = lam.invoke(FunctionName="slow", Payload=b"{}")
    assert time.monotonic() - t0 < 10
    assert json.loads(resp["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_s3_put_to_raw_runs_the_function(local_stack):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="lake-trigger")
    s3.create_bucket(Bucket="out-trigger")
    arn = _function("on-upload", {"OUT_BUCKET": "out-trigger"})
    s3.put_bucket_notification_configuration(Bucket="lake-trigger", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                                          "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "raw/"},
                                                                             {"Name": "suffix", "Value": ".csv"}]}}}]})
    s3.put_object(Bucket="lake-trigger", Key="raw/feedback/f.csv", Body=b"a,b\n")
    s3.put_object(Bucket="lake-trigger", Key="other/f.csv", Body=b"a,b\n")  # outside the prefix: no invoke
    s3.put_object(Bucket="lake-trigger", Key="raw/feedback/f.txt", Body=b"a")  # wrong suffix: no invoke
    wait(lambda: s3.list_objects_v2(Bucket="out-trigger").get("KeyCount", 0) >= 1)
    time.sleep(2)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="out-trigger").get("Contents", [])]
    assert keys == ["seen/raw/feedback/f.csv"]


def test_control_requests_refuse_bad_values_and_change_nothing(local_stack):
    speed = stack.status(local_stack)["clock_speed"]
    for bad in (0, -1, 1e9):
        with pytest.raises(stack.StackError, match="speed must be"):
            stack.set_clock(local_stack, bad)
    with pytest.raises(stack.StackError, match="TypeError"):
        stack.set_faults(local_stack, s3_event_copies=2)  # a range is two numbers
    assert stack.status(local_stack)["clock_speed"] == speed
    assert stack.set_faults(local_stack) == {"s3_event_copies": [1, 1], "s3_event_max_delay_s": 0.0}


def test_injected_faults_deliver_each_s3_event_several_times_out_of_order(local_stack):
    s3, logs = aws.client("s3"), aws.client("logs")
    s3.create_bucket(Bucket="lake-faults")
    s3.create_bucket(Bucket="out-faults")
    arn = _function("on-upload-faults", {"OUT_BUCKET": "out-faults"})
    s3.put_bucket_notification_configuration(Bucket="lake-faults", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    with pytest.raises(stack.StackError, match="s3_event_copies"):
        stack.set_faults(local_stack, s3_event_copies=[3, 2])
    assert stack.set_faults(local_stack, s3_event_copies=[3, 3], s3_event_max_delay_s=1.0)["s3_event_copies"] == [3, 3]
    try:
        for name in ("a", "b"):
            s3.put_object(Bucket="lake-faults", Key=f"raw/{name}.csv", Body=b"x")

        def starts():
            try:
                events = logs.filter_log_events(logGroupName="/aws/lambda/on-upload-faults")["events"]
            except logs.exceptions.ResourceNotFoundException:  # no invocation has ended yet
                return []
            return [e for e in events if e["message"].startswith("START RequestId")]

        wait(lambda: len(starts()) >= 6, timeout=30)
    finally:
        assert stack.set_faults(local_stack) == {"s3_event_copies": [1, 1], "s3_event_max_delay_s": 0.0}
    time.sleep(1.5)
    assert len(starts()) == 6  # three deliveries of each event, none lost, no more
    s3.put_object(Bucket="lake-faults", Key="raw/c.csv", Body=b"x")  # faults off: exactly once again
    wait(lambda: len(starts()) == 7, timeout=30)
    time.sleep(1.5)
    assert len(starts()) == 7


def test_async_failures_retry_twice_then_reach_the_dead_letter_queue(local_stack):
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName="fn-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _function("async-fail", DeadLetterConfig={"TargetArn": dlq_arn})
    resp = aws.client("lambda").invoke(FunctionName="async-fail", InvocationType="Event",
                                       Payload=json.dumps({"fail": True, "n": 1}))
    assert resp["StatusCode"] == 202
    msgs = wait(lambda: sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"]).get("Messages"))
    assert json.loads(msgs[0]["Body"]) == {"fail": True, "n": 1}
    assert msgs[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "asked to fail"
    stats = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": "async-fail"}],
        StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 3  # the first try and two retries


def test_on_failure_destination_gets_aws_shaped_record(local_stack):
    sqs = aws.client("sqs")
    q = sqs.create_queue(QueueName="fn-onfailure")["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _function("async-dest")
    aws.client("lambda").put_function_event_invoke_config(
        FunctionName="async-dest", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": q_arn}})
    aws.client("lambda").invoke(FunctionName="async-dest", InvocationType="Event", Payload=json.dumps({"fail": 1}))
    record = json.loads(wait(lambda: sqs.receive_message(QueueUrl=q).get("Messages"))[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"fail": 1}
    assert record["responsePayload"]["errorMessage"] == "asked to fail"


def test_sns_email_lands_in_the_mailbox(local_stack):
    sns = aws.client("sns")
    topic = sns.create_topic(Name="alerts-" + uuid.uuid4().hex[:6])["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")
    sns.publish(TopicArn=topic, Subject="Pipeline failed", Message="Glue run jr_1 FAILED")
    mail = wait(lambda: mails(local_stack, to="oncall@example.com"))[-1]
    assert mail["Subject"] == "Pipeline failed"
    assert "Glue run jr_1 FAILED" in body(mail)


def test_eventbridge_rule_delivers_to_sns_with_input_transformer(local_stack):
    events = aws.client("events")
    mail_failed_glue_runs("glue-failed", "glue-alerts", "data-team@example.com", {"InputTransformer": {
        "InputPathsMap": {"job": "$.detail.jobName", "state": "$.detail.state"},
        "InputTemplate": '"Glue job <job> ended <state>"'}})
    for state in ("SUCCEEDED", "FAILED"):
        events.put_events(Entries=[{"Source": "aws.glue", "DetailType": "Glue Job State Change",
                                    "Detail": json.dumps({"jobName": "customer360-etl", "state": state})}])
    wait(lambda: mails(local_stack, to="data-team@example.com"))
    time.sleep(1)
    new = mails(local_stack, to="data-team@example.com")
    assert len(new) == 1  # the SUCCEEDED event does not match the rule
    assert "Glue job customer360-etl ended FAILED" in body(new[0])


def test_s3_objects_dynamodb_items_and_secrets_survive_down_and_up(local_stack):
    s3, ddb = aws.client("s3"), aws.client("dynamodb")
    kept_secret = '{"password": "kept-1"}'  # pragma: allowlist secret
    aws.client("secretsmanager").create_secret(Name="persist/db", SecretString=kept_secret,
                                               Description="survives a restart")
    s3.create_bucket(Bucket="persist-me")
    s3.put_bucket_versioning(Bucket="persist-me", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="persist-me", Key="raw/a/b.json", Body=b'{"x": 0}')["VersionId"]
    v2 = s3.put_object(Bucket="persist-me", Key="raw/a/b.json", Body=b'{"x": 1}', Metadata={"source": "test"})
    s3.put_object(Bucket="persist-me", Key="gone.json", Body=b"{}")
    s3.delete_object(Bucket="persist-me", Key="gone.json")  # its current version is a delete marker
    ddb.create_table(TableName="persist_table", KeySchema=[{"AttributeName": "record_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("record_id", "status")],
                     GlobalSecondaryIndexes=[{"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}]}],
                     BillingMode="PAY_PER_REQUEST")
    for i in range(60):
        ddb.put_item(TableName="persist_table", Item={"record_id": {"S": f"r{i}"}, "n": {"N": str(i)},
                                                      "status": {"S": "PENDING" if i % 3 else "SUCCESS"}})
    stopped = stack.down(local_stack)
    assert not stopped["running"]
    started = stack.up(local_stack, clock_speed=600)
    assert started["running"]
    obj = aws.client("s3").get_object(Bucket="persist-me", Key="raw/a/b.json")
    assert obj["Body"].read() == b'{"x": 1}' and obj["Metadata"] == {"source": "test"}
    # every version survives with its id: a file waiting in raw/ is known to the ledger by its version
    versions = aws.client("s3").list_object_versions(Bucket="persist-me", Prefix="raw/")["Versions"]
    assert [v["VersionId"] for v in versions] == [v2["VersionId"], v1] and obj["VersionId"] == v2["VersionId"]
    old = aws.client("s3").get_object(Bucket="persist-me", Key="raw/a/b.json", VersionId=v1)
    assert old["Body"].read() == b'{"x": 0}'
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket="persist-me", Prefix="gone")
    assert aws.client("s3").get_bucket_versioning(Bucket="persist-me")["Status"] == "Enabled"
    items = aws.client("dynamodb").scan(TableName="persist_table")["Items"]
    assert sorted(int(i["n"]["N"]) for i in items) == list(range(60))
    # its global secondary index too (the ledger's status-received_at is one)
    (index,) = aws.client("dynamodb").describe_table(TableName="persist_table")["Table"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-status" and index["IndexStatus"] == "ACTIVE"
    pending = aws.client("dynamodb").query(TableName="persist_table", IndexName="by-status",
                                           KeyConditionExpression="#s = :p", ExpressionAttributeNames={"#s": "status"},
                                           ExpressionAttributeValues={":p": {"S": "PENDING"}})["Items"]
    assert len(pending) == 40
    # the local PostgreSQL keeps its master password across a restart, so its secret must stay too
    kept = aws.client("secretsmanager").get_secret_value(SecretId="persist/db")
    assert kept["SecretString"] == kept_secret  # pragma: allowlist secret
    snapshot = local_stack.state_dir / "snapshot" / "snapshot.json"
    assert snapshot.stat().st_mode & 0o077 == 0  # it holds secrets: its owner only


def test_sns_and_eventbridge_deliver_to_lambda_and_sqs(local_stack):
    sns, sqs, events, logs = aws.client("sns"), aws.client("sqs"), aws.client("events"), aws.client("logs")
    arn = _function("fan-in")
    topic = sns.create_topic(Name="fan-out")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    q = sqs.create_queue(QueueName="fan-out-q")["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q_arn)
    sns.publish(TopicArn=topic, Message="hello-from-sns")
    events.put_rule(Name="to-lambda", EventPattern=json.dumps({"source": ["c360.test"]}))
    events.put_targets(Rule="to-lambda", Targets=[{"Id": "fn", "Arn": arn}])
    events.put_events(Entries=[{"Source": "c360.test", "DetailType": "ping", "Detail": json.dumps({"n": 7})}])
    body = json.loads(wait(lambda: sqs.receive_message(QueueUrl=q).get("Messages"))[0]["Body"])
    assert body["Message"] == "hello-from-sns"

    def logged():
        try:
            found = logs.filter_log_events(logGroupName="/aws/lambda/fan-in")["events"]
        except logs.exceptions.ResourceNotFoundException:  # before the first invocation logs anything
            return False
        text = "\n".join(e["message"] for e in found)
        return "hello-from-sns" in text and '"source": "c360.test"' in text

    wait(logged)


def test_sns_http_subscription_receives_the_notification(local_stack):
    import http.server
    import threading

    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sns = aws.client("sns")
        topic = sns.create_topic(Name="http-out")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"http://127.0.0.1:{server.server_port}/hook")
        sns.publish(TopicArn=topic, Message="hello-http", Subject="s")
        note = wait(lambda: [r for r in received if r.get("Type") == "Notification"])[0]
        assert note["Message"] == "hello-http" and note["TopicArn"] == topic
    finally:
        server.shutdown()
