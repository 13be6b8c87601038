"""lambda/ledger.py without AWS: the states the Lambda writes, the index definition, pages, a missing index.
(Against DynamoDB itself, on the local stack: tests/e2e/test_ledger_index.py.)"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from c360 import shipped


@pytest.fixture(scope="module")
def ledger():
    return shipped.lambda_module("ledger")


class Pages:
    """Canned Query / Scan pages; records each request."""

    name = "ledger-under-test"

    def __init__(self, *pages):
        self.pages, self.requests = list(pages), []

    def query(self, **request):
        self.requests.append(request)
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        return page

    scan = query


def test_the_lambda_writes_valid_pending_or_invalid_failed(ledger):
    assert ledger.initial_state(True) == {"validation_status": "VALID", "status": "PENDING"}
    assert ledger.initial_state(False) == {"validation_status": "INVALID", "status": "FAILED"}
    assert ledger.STATUSES == ("PENDING", "SUCCESS", "FAILED")


def test_the_index_is_keyed_on_status_then_received_at(ledger):
    index = ledger.index_definition()
    assert index["IndexName"] == ledger.INDEX_NAME == "status-received_at"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "received_at"]
    assert index["Projection"] == {"ProjectionType": "ALL"} and "ProvisionedThroughput" not in index
    assert {a["AttributeName"] for a in ledger.attribute_definitions()} == {"record_id", "status", "received_at"}


def test_pending_items_follows_every_page_even_an_empty_one(ledger):
    table = Pages({"Items": [{"record_id": "a"}], "LastEvaluatedKey": {"record_id": "a"}},
                  {"Items": [], "LastEvaluatedKey": {"record_id": "b"}},  # Limit applies before the filter
                  {"Items": [{"record_id": "c"}]})
    assert [i["record_id"] for i in ledger.pending_items(table, page_size=2)] == ["a", "c"]
    first, *rest = table.requests
    assert first["IndexName"] == "status-received_at" and first["Limit"] == 2
    assert first["ExpressionAttributeValues"] == {":s": "PENDING", ":v": "VALID", ":t": True}
    assert first["FilterExpression"] == "validation_status = :v AND moved = :t"
    assert [r["ExclusiveStartKey"] for r in rest] == [{"record_id": "a"}, {"record_id": "b"}]
    every = Pages({"Items": []})
    ledger.pending_items(every, valid_only=False)
    assert "FilterExpression" not in every.requests[0] and "Limit" not in every.requests[0]


def test_a_bucket_narrows_every_reader_to_that_buckets_files(ledger):
    """Two pipelines (two envs in one account) may share the table: each reads only its own bucket's items."""
    table = Pages({"Items": []}, {"Items": []}, *[{"Items": []}] * 3)
    ledger.pending_items(table, valid_only=False, bucket="lake-a")
    ledger.pending_items(table, bucket="lake-a")
    ledger.valid_items(table, bucket="lake-a")
    for request in table.requests:
        assert request["ExpressionAttributeNames"]["#b"] == "bucket"  # a reserved word: always by its name
        assert request["ExpressionAttributeValues"][":b"] == "lake-a"
    assert [r["FilterExpression"] for r in table.requests[:2]] == [
        "(attribute_not_exists(#b) OR #b = :b)",
        "validation_status = :v AND moved = :t AND (attribute_not_exists(#b) OR #b = :b)"]
    assert len(table.requests) == 5  # valid_items: one Query per status


def test_a_table_without_the_index_says_to_provision(ledger):
    for code, message in [("ValidationException", "The table does not have the specified index: status-received_at"),
                          ("ResourceNotFoundException", "Invalid index: status-received_at for table: t")]:  # moto
        missing = ClientError({"Error": {"Code": code, "Message": message}}, "Query")
        with pytest.raises(ledger.MissingIndex, match="ledger-under-test has no index status-received_at.*provision"):
            ledger.pending_items(Pages(missing))
    no_table = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}},
                           "Query")
    with pytest.raises(ClientError, match="Requested resource not found"):
        ledger.pending_items(Pages(no_table))
    other = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                        "Query")
    with pytest.raises(ClientError):
        ledger.pending_items(Pages(other))
