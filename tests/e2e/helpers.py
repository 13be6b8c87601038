"""Small helpers the end-to-end tests share: polling, and reading the local mailbox."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from c360 import config
from c360.local import stack


def wait(condition, timeout: float = 30.0, every: float = 0.2):
    """Poll `condition` until it returns something truthy; return that, or fail after `timeout` seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s")


def mails(settings: config.Settings, to: str | None = None) -> list[Message]:
    """Messages in the stack's Maildir, oldest first, optionally only those to one address."""
    box = Path(stack.status(settings)["mailbox"]) / "new"
    found = [message_from_bytes(p.read_bytes()) for p in sorted(box.glob("*.eml"))]
    return [m for m in found if to is None or m["To"] == to]


def body(mail: Message) -> str:
    return mail.get_payload(decode=True).decode()


GLUE_FAILED = {"source": ["aws.glue"], "detail-type": ["Glue Job State Change"],
               "detail": {"state": ["FAILED", "TIMEOUT", "STOPPED"]}}


def mail_failed_glue_runs(rule: str, topic_name: str, address: str, target: dict | None = None) -> str:
    """A topic mailing `address`, and an EventBridge rule sending failed Glue runs to it; returns the topic ARN."""
    import json

    from c360 import aws

    sns, events = aws.client("sns"), aws.client("events")
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    events.put_rule(Name=rule, EventPattern=json.dumps(GLUE_FAILED))
    events.put_targets(Rule=rule, Targets=[{"Id": "mail", "Arn": topic, **(target or {})}])
    return topic
