"""SNS e-mail extension: each message to an `email` / `email-json` subscription lands in a local Maildir.

What it does: `<state>/mailbox/new/<time>.<message id>.eml`, one RFC 5322 file per message (open it with any
mail client, or read it as text), From "AWS Notifications <no-reply@sns.amazonaws.com>", To the subscribed
address, the topic's subject (or "AWS Notification Message"), and the body AWS sends (the message and an
unsubscribe footer; the JSON envelope for email-json).
How it differs from AWS: subscriptions are confirmed at once (AWS first mails a confirmation link and holds
messages until it is clicked); nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from c360.local.emulator_context import EmulatorContext

SENDER = "AWS Notifications <no-reply@sns.amazonaws.com>"
_lock = threading.Lock()


class Mailbox:
    """A Maildir: messages are written to tmp/ and renamed into new/, so a reader never sees half a file."""

    def __init__(self, root: Path):
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def deliver(self, to: str, subject: str, body: str, headers: dict[str, str] | None = None) -> Path:
        msg = EmailMessage()
        msg["From"] = SENDER
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="sns.local")
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body)
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.eml"
        with _lock:
            tmp = self.root / "tmp" / name
            tmp.write_bytes(bytes(msg))
            final = self.root / "new" / name
            os.replace(tmp, final)
        return final

    def messages(self) -> list[Path]:
        return sorted([*(self.root / "new").glob("*.eml"), *(self.root / "cur").glob("*.eml")],
                      key=lambda p: p.name)


def install(ctx: EmulatorContext) -> Mailbox:
    from moto.sns import models as sns_models

    mailbox = Mailbox(ctx.path("mailbox"))
    Subscription = sns_models.Subscription
    original_publish = Subscription.publish
    original_subscribe = sns_models.SNSBackend.subscribe

    def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
                deduplication_id=None, message_structure=None):
        if self.protocol not in ("email", "email-json"):
            return original_publish(self, message, message_id, subject, message_attributes, group_id,
                                    deduplication_id, message_structure)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
                message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        if self.protocol == "email-json":
            body = json.dumps(self.get_post_data(message, message_id, subject), indent=2)
        else:
            body = (f"{message}\n\n--\nIf you wish to stop receiving notifications from this topic, "
                    f"unsubscribe: {self.arn} (local emulator: c360 local)\n")
        mailbox.deliver(self.endpoint, subject or "AWS Notification Message", body,
                        {"X-SNS-Topic-Arn": self.topic_arn, "X-SNS-Message-Id": message_id})
        return None

    def subscribe(self, topic_arn, endpoint, protocol):
        subscription = original_subscribe(self, topic_arn, endpoint, protocol)
        if protocol in ("email", "email-json"):
            subscription.confirmed = True  # locally there is no link to click
        return subscription

    Subscription.publish = publish
    sns_models.SNSBackend.subscribe = subscribe
    return mailbox
