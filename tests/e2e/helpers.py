"""Small helpers the end-to-end tests share: polling, and reading the local mailbox."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from c360 import config
from c360.local import stack

DB_SECRET = "load-test/rds-master"  # the `database` fixture's secret (conftest.py)  # pragma: allowlist secret


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


def curated_table(bucket: str, name: str, folder: Path):
    """curated/<name> of the bucket as a pyarrow Table (its Parquet parts downloaded to `folder`, in their folders:
    an incremental run's tables are partitioned, bucket=N/)."""
    import pyarrow.parquet as pq

    from c360 import aws

    s3 = aws.client("s3")
    prefix = f"curated/{name}/"
    dest = folder / name
    dest.mkdir(parents=True, exist_ok=True)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]
    for k in keys:
        (dest / k.removeprefix(prefix)).parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, k, str(dest / k.removeprefix(prefix)))
    return pq.read_table(dest)


def database_dsn(secret_id: str) -> str:
    """The DSN of the database a secret names (the workbench's reader, the shipped module's parser)."""
    from c360.dashboards import database_dsn as dsn

    return dsn(secret_id=secret_id)


GOLDEN_FIGURES = ("customer_id", "full_name", "email", "order_count", "total_spend", "avg_order_value",
                  "feedback_count", "avg_rating", "positive_feedback", "neutral_feedback", "negative_feedback",
                  "latest_sentiment", "dq_score", "top_category")


def golden_in_database(dsn: str) -> dict[str, tuple]:
    """customer_id -> (sorted source ids, the golden figures) as PostgreSQL holds them."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT source_customer_ids, {', '.join(GOLDEN_FIGURES)} FROM customer360_golden")
        return {r[1]: (tuple(sorted(r[0])), *r[1:]) for r in rows}


def golden_in_curated(table) -> dict[str, tuple]:
    """The same shape from curated/customer360_golden (a pyarrow Table)."""
    return {r["customer_id"]: (tuple(sorted(r["source_customer_ids"])), *[r[c] for c in GOLDEN_FIGURES])
            for r in table.to_pylist()}


def run_notebook(root: Path, folder: Path, name: str, out_name: str, **params) -> str:
    """notebooks/<name> under papermill (kept as <folder>/<out_name>); returns the text of every output."""
    import json

    import papermill as pm

    out = folder / out_name
    pm.execute_notebook(str(root / "notebooks" / name), str(out), parameters=params, kernel_name="python3",
                        cwd=str(root / "notebooks"), progress_bar=False)
    nb = json.loads(out.read_text())
    return "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                     for c in nb["cells"] for o in c.get("outputs", []))
