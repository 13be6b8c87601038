"""The validation Lambda (lambda/handler.py) finishes a move that an earlier invocation left half done.

An invocation can stop at any request: a timeout, an out-of-memory kill, the emulator stopped mid-pipeline (the
reliability suite's restart scenario found the first case below). The next delivery of the same event, a Lambda
retry or `c360 reconcile`, must finish the move from where it stopped, once. The stop is made real by failing one
request of the Router's own clients (a botocore hook on the emulator's API), so the state left behind is exactly
what a killed invocation leaves.
"""

from __future__ import annotations

import pytest
from helpers import wait

from c360 import aws, shipped

pytestmark = pytest.mark.e2e

BUCKET, TABLE = "resume-lake", "resume-ledger"
FEEDBACK = "feedback_id,customer_id,purchase_id,feedback_date,rating,channel,comment\nF1,C1,,2024-01-02,5,web,ok\n"
LATIN_XML = ('<?xml version="1.0" encoding="ISO-8859-1"?><customers><customer id="C9"><first_name>Zoé</first_name>'
             "<last_name>Müller</last_name><email>z@m.de</email><signup_date>2024-01-02</signup_date></customer>"
             "</customers>").encode("latin-1")
FILES = {  # key -> body: re-encoded to UTF-8, BOM dropped, copied verbatim, refused
    "raw/customer_details/latin.xml": LATIN_XML,
    "raw/feedback/bom.csv": b"\xef\xbb\xbf" + FEEDBACK.encode(),
    "raw/feedback/plain.csv": FEEDBACK.encode(),
    "raw/purchases/dup.json": b'[{"purchase_id": "P1", "purchase_id": "P2"}]',
}


class Stopped(Exception):
    """The invocation ends here, as if killed."""


@pytest.fixture(scope="module")
def lake(local_stack):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    aws.client("s3").put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "record_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "record_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    wait(lambda: ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE")
    return shipped.lambda_module("handler")


def _router(handler, stop_at: str | None = None):
    """A Router on the emulator's clients (no Glue job configured); `stop_at` ("s3.DeleteObject", ...) fails the
    first such request."""
    s3, table = aws.client("s3"), aws.resource("dynamodb").Table(TABLE)
    router = handler.Router(s3, table, aws.client("glue"), aws.client("cloudwatch"), "", "C360/ResumeTest")
    if stop_at:
        service, op = stop_at.split(".")
        client = s3 if service == "s3" else table.meta.client
        fired = []

        def stop(**_):
            if not fired:
                fired.append(op)
                raise Stopped(stop_at)
        client.meta.events.register(f"before-call.{service}.{op}", stop)
    return router


def _raw_versions(key: str) -> list[str]:
    return [v["VersionId"] for v in aws.client("s3").list_object_versions(Bucket=BUCKET, Prefix=key)
            .get("Versions", []) if v["Key"] == key]


def _item(handler, key: str, version: str) -> dict:
    return aws.resource("dynamodb").Table(TABLE).get_item(
        Key={"record_id": handler.record_id(BUCKET, key, version)}, ConsistentRead=True)["Item"]


def _check_moved(handler, key: str, version: str, body: bytes) -> None:
    item = _item(handler, key, version)
    assert item["moved"] is True and _raw_versions(key) == [], item
    copy = aws.client("s3").get_object(Bucket=BUCKET, Key=item["destination"])["Body"].read()
    if item["validation_status"] == "INVALID":
        assert copy == body  # a refused file is kept as received
    elif key.endswith(".xml"):
        assert copy.startswith(b'<?xml version="1.0" encoding="UTF-8"?>') and "Zoé" in copy.decode("utf-8")
    else:
        assert copy == FEEDBACK.encode()  # BOM dropped, or copied verbatim


@pytest.mark.parametrize("stop_at", ["s3.DeleteObject", "dynamodb.UpdateItem"],
                         ids=["after-the-copy", "after-the-delete"])
@pytest.mark.parametrize("raw_key", sorted(FILES))
def test_the_next_delivery_finishes_a_move_left_half_done(lake, raw_key, stop_at):
    handler, s3 = lake, aws.client("s3")
    folder, name = raw_key.rsplit("/", 1)
    key = f"{folder}/{stop_at.split('.')[1].lower()}-{name}"  # one key per case
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=FILES[raw_key])["VersionId"]
    with pytest.raises(Stopped):
        _router(handler, stop_at).process(BUCKET, key, version)
    item = _item(handler, key, version)
    assert not item.get("moved")  # left half done: the verdict recorded, the move not marked
    assert _raw_versions(key) == ([version] if stop_at == "s3.DeleteObject" else [])
    first = _router(handler).process(BUCKET, key, version)  # the retry, or `c360 reconcile`
    assert first["result"] == item["validation_status"], first
    _check_moved(handler, key, version, FILES[raw_key])
    moved_at = _item(handler, key, version)["moved_at"]
    again = _router(handler).process(BUCKET, key, version)  # any later copy of the event changes nothing
    assert again == {"record_id": item["record_id"], "result": "duplicate"}
    assert _item(handler, key, version)["moved_at"] == moved_at


def test_a_source_deleted_by_someone_else_before_any_copy_is_gone(lake):
    handler = lake
    key = "raw/feedback/deleted.csv"
    version = aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=FEEDBACK.encode())["VersionId"]
    aws.client("s3").delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    result = _router(handler).process(BUCKET, key, version)
    assert result["result"] == "gone"
    assert "Item" not in aws.resource("dynamodb").Table(TABLE).get_item(
        Key={"record_id": handler.record_id(BUCKET, key, version)})
