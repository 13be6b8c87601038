"""What 50_monitoring uses: the alarms and the rule as tables, the alert mailbox, waiting for an alarm or a mail,
and the small operations that break and restore a piece of the pipeline on purpose.

Every call goes through `c360.aws` (both targets). The mailbox is the local stack's Maildir; on AWS the alerts go
to the subscribed address, and `mails` is empty.
"""

from __future__ import annotations

import json
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from c360 import aws, config


def alarms(settings: config.Settings, names: list[str]) -> list[dict]:
    """Each alarm's metric, threshold and current state."""
    found = aws.client("cloudwatch", settings).describe_alarms(AlarmNames=names)["MetricAlarms"]
    return [{"alarm": a["AlarmName"], "metric": f"{a['Namespace']}/{a['MetricName']}",
             "condition": f"{a['Statistic']} {a['ComparisonOperator']} {a['Threshold']:g} over {a['Period']} s",
             "state": a["StateValue"], "reason": a.get("StateReason", "")[:120]} for a in found]


def rule(settings: config.Settings, name: str) -> dict:
    events = aws.client("events", settings)
    r = events.describe_rule(Name=name)
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    return {"rule": name, "state": r["State"], "pattern": json.loads(r["EventPattern"]),
            "targets": [t["Arn"] for t in targets]}


def mailbox(settings: config.Settings) -> Path | None:
    if not settings.is_local:
        return None
    from c360.local import stack

    return Path(stack.status(settings)["mailbox"]) / "new"


def mails(settings: config.Settings, since: float = 0.0) -> list[Message]:
    """Alert e-mails delivered after `since` (a time.time()), oldest first."""
    box = mailbox(settings)
    if box is None or not box.is_dir():
        return []
    files = sorted((p for p in box.glob("*.eml") if p.stat().st_mtime >= since), key=lambda p: p.stat().st_mtime)
    return [message_from_bytes(p.read_bytes()) for p in files]


def wait_for(what: str, condition, timeout: float, every: float = 2.0, progress: bool = True):
    """Poll `condition` until it returns something truthy; show progress; fail clearly after `timeout` seconds."""
    t0 = time.monotonic()
    while True:
        value = condition()
        if value:
            if progress:
                print(f"\r  {what}: after {time.monotonic() - t0:.0f} s" + " " * 20, flush=True)
            return value
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        if progress:
            print(f"\r  waiting for {what} ... {time.monotonic() - t0:.0f} s", end="", flush=True)
        time.sleep(every)


def wait_for_mail(settings: config.Settings, subject_part: str, since: float, timeout: float = 300) -> Message:
    def found():
        return next((m for m in mails(settings, since) if subject_part in (m["Subject"] or "")
                     or subject_part in _text(m)), None)
    return wait_for(f"an e-mail about {subject_part!r}", found, timeout)


def wait_for_alarm(settings: config.Settings, name: str, state: str, timeout: float = 300,
                   while_waiting=None) -> dict:
    """The alarm's description once it is in `state`; `while_waiting()` (returning a count) runs before each look,
    and the counts' sum is returned as "redriven"."""
    cw = aws.client("cloudwatch", settings)
    done = {"n": 0}

    def reached():
        if while_waiting is not None:
            done["n"] += while_waiting() or 0
        a = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return {**a[0], "redriven": done["n"]} if a and a[0]["StateValue"] == state else None
    return wait_for(f"alarm {name} {state}", reached, timeout)


def _text(m: Message) -> str:
    payload = m.get_payload(decode=True)
    return payload.decode(errors="replace") if payload else ""


def alarm_reason(m: Message) -> str:
    """The NewStateReason of an alarm's mail (AWS's alarm JSON, alone or in an SNS envelope)."""
    try:
        doc = json.loads(_text(m))
        if isinstance(doc.get("Message"), str):
            doc = json.loads(doc["Message"])
        return str(doc.get("NewStateReason", ""))
    except (ValueError, AttributeError):
        return _text(m)[:300]


def mail_summary(m: Message) -> dict:
    body = _text(m)
    try:
        message = json.loads(body).get("Message", body)
    except ValueError:
        message = body
    return {"to": m["To"], "subject": m["Subject"], "message": str(message)[:160]}


def set_function_env(settings: config.Settings, function: str, **changes: str) -> dict:
    """Change some environment variables of the function, keeping the others; returns the previous ones."""
    lam = aws.client("lambda", settings)
    before = lam.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": {**before, **changes}})
    return dict(before)


def queue_url(settings: config.Settings, name: str) -> str:
    return aws.client("sqs", settings).get_queue_url(QueueName=name)["QueueUrl"]


def dlq_messages(settings: config.Settings, url: str) -> int:
    attrs = aws.client("sqs", settings).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def redrive(settings: config.Settings, url: str, function: str) -> int:
    """Invoke the function again with each event the dead-letter queue holds (asynchronously, as S3 does), then
    delete the message: the files those events name are routed after all (a repeated event changes nothing, so a
    file named twice is harmless). Returns how many were re-driven."""
    sqs, lam = aws.client("sqs", settings), aws.client("lambda", settings)
    n = 0
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return n
        for msg in batch:
            body = json.loads(msg["Body"])
            # an on-failure destination record wraps the event ("requestPayload"); a DLQ message is the event
            event = body.get("requestPayload", body) if isinstance(body, dict) else body
            lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            n += 1


def active_runs(settings: config.Settings, job: str) -> list[str]:
    """Ids of the job's runs that have not ended."""
    from c360.reconcile import ACTIVE

    runs = aws.client("glue", settings).get_job_runs(JobName=job).get("JobRuns", [])
    return [r["Id"] for r in runs if r["JobRunState"] in ACTIVE]


def set_read_only(dsn: str, database: str, on: bool) -> None:
    """Make new sessions of the database read-only (an RDS write failure on demand), or writable again."""
    import psycopg
    from psycopg import sql

    # this session itself must be writable, whatever the database's default says
    with psycopg.connect(dsn, autocommit=True, options="-c default_transaction_read_only=off") as conn:
        stmt = "ALTER DATABASE {} SET default_transaction_read_only = on" if on else \
            "ALTER DATABASE {} RESET default_transaction_read_only"
        conn.execute(sql.SQL(stmt).format(sql.Identifier(database)))
