"""CloudWatch alarms are evaluated against metric data and mail their SNS actions on state changes."""

from __future__ import annotations

import json
import time

import pytest
from helpers import body, mails, wait

from c360 import aws

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topic(local_stack):
    sns = aws.client("sns")
    arn = sns.create_topic(Name="alarm-topic")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="alarms@example.com")
    return arn


def test_metric_above_threshold_alarms_and_mails(local_stack, topic):
    cw = aws.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="rds-write-failures", Namespace="Customer360", MetricName="RdsWriteFailures",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        AlarmActions=[topic], OKActions=[topic])
    assert cw.describe_alarms(AlarmNames=["rds-write-failures"])["MetricAlarms"][0]["StateValue"] in (
        "INSUFFICIENT_DATA", "OK")
    cw.put_metric_data(Namespace="Customer360", MetricData=[{"MetricName": "RdsWriteFailures", "Value": 1,
                                                            "Unit": "Count"}])
    alarm_mail = wait(lambda: [m for m in mails(local_stack, to="alarms@example.com")
                                if m["Subject"].startswith("ALARM")])
    message = json.loads(body(alarm_mail[0]).split("\n\n--\n")[0])
    assert message["AlarmName"] == "rds-write-failures" and message["NewStateValue"] == "ALARM"
    assert message["Trigger"]["MetricName"] == "RdsWriteFailures"
    # no more failures: the next periods are not breaching, the alarm returns to OK and says so
    def ok_after_alarm():
        subjects = [m["Subject"] for m in mails(local_stack, to="alarms@example.com")
                    if "rds-write-failures" in m["Subject"]]
        first_alarm = next(i for i, s in enumerate(subjects) if s.startswith("ALARM"))
        return any(s.startswith("OK") for s in subjects[first_alarm:])

    wait(ok_after_alarm)
    assert cw.describe_alarms(AlarmNames=["rds-write-failures"])["MetricAlarms"][0]["StateValue"] == "OK"


def test_below_threshold_and_other_dimensions_do_not_alarm(local_stack, topic):
    cw = aws.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="lambda-errors", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "FunctionName", "Value": "validator"}], AlarmActions=[topic],
                        TreatMissingData="notBreaching")
    dims = [{"Name": "FunctionName", "Value": "validator"}]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Errors", "Value": 5, "Dimensions": dims},  # equal to the threshold: not above it
        {"MetricName": "Errors", "Value": 50, "Dimensions": [{"Name": "FunctionName", "Value": "other"}]}])
    time.sleep(0.5)
    states = {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms()["MetricAlarms"]}
    assert states["lambda-errors"] == "OK"
    assert not [m for m in mails(local_stack, to="alarms@example.com") if "lambda-errors" in m["Subject"]]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "Errors", "Value": 6, "Dimensions": dims}])
    wait(lambda: [m for m in mails(local_stack, to="alarms@example.com")
                   if m["Subject"].startswith('ALARM: "lambda-errors"')])


def test_set_alarm_state_fires_actions(local_stack, topic):
    cw = aws.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="dq-failure", Namespace="Customer360", MetricName="DqFailurePercent",
                        Statistic="Maximum", Period=300, EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic], TreatMissingData="ignore")
    cw.set_alarm_state(AlarmName="dq-failure", StateValue="ALARM", StateReason="testing the alert path")
    mail = wait(lambda: [m for m in mails(local_stack, to="alarms@example.com")
                          if m["Subject"].startswith('ALARM: "dq-failure"')])
    assert "testing the alert path" in body(mail[0])


def test_dead_letter_queue_depth_alarms_like_on_aws(local_stack, topic):
    sqs, cw = aws.client("sqs"), aws.client("cloudwatch")
    url = sqs.create_queue(QueueName="depth-dlq")["QueueUrl"]
    cw.put_metric_alarm(AlarmName="dlq-depth", Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
                        Dimensions=[{"Name": "QueueName", "Value": "depth-dlq"}], Statistic="Maximum", Period=60,
                        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
                        TreatMissingData="notBreaching", AlarmActions=[topic])
    sqs.send_message(QueueUrl=url, MessageBody="gave up on this event")
    wait(lambda: [m for m in mails(local_stack, to="alarms@example.com")
                   if m["Subject"].startswith('ALARM: "dlq-depth"')])
