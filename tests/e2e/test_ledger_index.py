"""lambda/ledger.py against the local stack's DynamoDB: the PENDING files by a Query on the index, page after page;
the Lambda's after_run finding late files through it; and the Glue job finding its files through it, with no Scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from c360 import aws, config, shipped
from c360.provision import ProvisionConfig, Provisioner

pytestmark = pytest.mark.e2e

TABLE = "c360-ledger-pages"
BEGAN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # when the Glue run of after_run's event began


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _items() -> list[dict]:
    """40 items as the Lambda and the Glue job leave them: record ids in the opposite order of arrival."""
    kinds = [("PENDING", "VALID", True), ("PENDING", "VALID", True), ("PENDING", "VALID", False),
             ("SUCCESS", "VALID", True), ("FAILED", "VALID", True), ("FAILED", "INVALID", True)]
    out = []
    for n in range(40):
        status, verdict, moved = kinds[n % len(kinds)]
        received = BEGAN + timedelta(minutes=n - 20)  # half before the run began, half after
        item = {"record_id": f"s3://lake/raw/feedback/f{99 - n:02d}.csv?versionId=v{n}", "bucket": "lake",
                "status": status, "validation_status": verdict, "received_at": _iso(received),
                "validated_at": _iso(received + timedelta(seconds=5)), "destination": f"validated/feedback/f{n}.csv"}
        if moved:
            item["moved"] = True
        out.append(item)
    return out


class Counting:
    """A Table that counts its Query and Scan requests (one per page); `unmoved_in_index` plays an index that has
    not caught up with those items' move yet."""

    def __init__(self, table, unmoved_in_index: set[str] = frozenset()):
        self.table, self.name, self.queries, self.scans = table, table.name, 0, 0
        self.unmoved_in_index = unmoved_in_index

    def query(self, **kwargs):
        self.queries += 1
        page = self.table.query(**kwargs)
        for item in page.get("Items", []):
            if item["record_id"] in self.unmoved_in_index:
                item.pop("moved", None)
        return page

    def scan(self, **kwargs):
        self.scans += 1
        return self.table.scan(**kwargs)

    def get_item(self, **kwargs):
        return self.table.get_item(**kwargs)

    def update_item(self, **kwargs):
        return self.table.update_item(**kwargs)


@pytest.fixture(scope="module")
def ledger_table(root, local_stack):
    p = Provisioner(ProvisionConfig(env="c360-ledger-pages", table=TABLE), config.settings(), root)
    p.ensure_table()
    assert p.steps[-1].action == "created"
    table = aws.resource("dynamodb").Table(TABLE)
    items = _items()
    with table.batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
    yield table, items
    aws.client("dynamodb").delete_table(TableName=TABLE)


def _oldest_first(items: list[dict]) -> list[str]:
    return [i["record_id"] for i in sorted(items, key=lambda i: i["received_at"])]


def test_pending_items_reads_every_page_of_the_index(ledger_table):
    table, items = ledger_table
    ledger = shipped.lambda_module("ledger")
    ready = [i for i in items if i["status"] == "PENDING" and i["validation_status"] == "VALID" and i.get("moved")]
    counting = Counting(table)
    # Limit 3 per page; the filter (VALID and moved) comes after it, so some pages hold fewer than 3
    found = ledger.pending_items(counting, page_size=3)
    assert [i["record_id"] for i in found] == _oldest_first(ready) and len(found) == 14
    pending = [i for i in items if i["status"] == "PENDING"]
    assert counting.queries >= len(pending) // 3 > 1
    every = ledger.pending_items(Counting(table), valid_only=False, page_size=4)
    assert [i["record_id"] for i in every] == _oldest_first(pending)  # also those whose move is not marked
    assert ledger.pending_items(table) == found  # one page when no Limit is set


def test_valid_items_and_all_items(ledger_table):
    table, items = ledger_table
    ledger = shipped.lambda_module("ledger")
    valid = [i for i in items if i["validation_status"] == "VALID" and i.get("moved")]
    assert [i["record_id"] for i in ledger.valid_items(table, page_size=5)] == _oldest_first(valid)
    counting = Counting(table)
    everything = ledger.all_items(counting, page_size=7)
    assert sorted(i["record_id"] for i in everything) == sorted(i["record_id"] for i in items)
    assert counting.scans == 6  # 40 items, 7 a page


class StubGlue:
    """The job's run whose SUCCEEDED event reached the Lambda, and the start it asks for."""

    def __init__(self):
        self.started = []

    def get_job_run(self, **request):
        return {"JobRun": {"Id": request["RunId"], "StartedOn": BEGAN}}

    def start_job_run(self, **request):
        self.started.append(request["JobName"])
        return {"JobRunId": "jr_after_run"}


def test_after_run_finds_late_files_by_the_index_and_asks_the_table_when_it_lags(ledger_table, capsys):
    table, items = ledger_table
    handler = shipped.lambda_module("handler")
    late = [i for i in items if i["status"] == "PENDING" and i.get("moved")
            and i["validated_at"] >= _iso(BEGAN)]
    lagging = {late[-1]["record_id"]}  # moved in the table, not yet in the index
    glue = StubGlue()
    router = handler.Router(aws.client("s3"), Counting(table, lagging), glue, aws.client("cloudwatch"), "the-job",
                            "C360/LedgerTest")
    result = router.after_run({"state": "SUCCEEDED", "jobName": "the-job", "jobRunId": "jr_1"})
    assert result == {"result": "started", "pending": len(late), "glue": "jr_after_run"} and glue.started
    assert "pending_before_run" in capsys.readouterr().out  # the older PENDING files are only reported
    assert router.after_run({"state": "FAILED", "jobName": "the-job", "jobRunId": "jr_1"}) == {"result": "ignored"}


def test_two_pipelines_sharing_the_table_read_only_their_own_buckets_files(ledger_table):
    """Two envs in one account share the table's default name: the readers and the Lambda's look for late files
    (after a SUCCEEDED run) see only their own bucket's items."""
    table, items = ledger_table
    ledger, handler = shipped.lambda_module("ledger"), shipped.lambda_module("handler")
    ours = ledger.pending_items(table)
    theirs = [{"record_id": f"s3://other-lake/raw/feedback/o{n}.csv?versionId=v{n}", "bucket": "other-lake",
               "status": "PENDING", "validation_status": "VALID", "moved": True,
               "received_at": _iso(BEGAN + timedelta(minutes=30 + n)),
               "validated_at": _iso(BEGAN + timedelta(minutes=30 + n, seconds=5)),
               "destination": f"validated/feedback/o{n}.csv"} for n in range(2)]
    for item in theirs:
        table.put_item(Item=item)
    try:
        assert ledger.pending_items(table, bucket="lake") == ours
        assert [i["record_id"] for i in ledger.pending_items(table, bucket="other-lake")] == _oldest_first(theirs)
        assert len(ledger.pending_items(table)) == len(ours) + 2  # no bucket: every item, as before
        table.update_item(Key={"record_id": ours[0]["record_id"]}, UpdateExpression="REMOVE #b",
                          ExpressionAttributeNames={"#b": "bucket"})  # an item with no bucket is everyone's
        assert ours[0]["record_id"] in {i["record_id"] for i in ledger.pending_items(table, bucket="other-lake")}
        table.put_item(Item=ours[0])
        assert all(i["bucket"] == "lake" for i in ledger.valid_items(table, bucket="lake"))
        glue = StubGlue()
        router = handler.Router(aws.client("s3"), table, glue, aws.client("cloudwatch"), "their-job",
                                "C360/LedgerTest", bucket="other-lake")
        result = router.after_run({"state": "SUCCEEDED", "jobName": "their-job", "jobRunId": "jr_1"})
        assert result == {"result": "started", "pending": 2, "glue": "jr_after_run"}
        router.bucket = "a-third-lake"  # a pipeline with no file pending: our 14 and their 2 are not its own
        result = router.after_run({"state": "SUCCEEDED", "jobName": "their-job", "jobRunId": "jr_1"})
        assert result == {"result": "nothing pending", "run": "jr_1"}
    finally:
        for item in theirs:
            table.delete_item(Key={"record_id": item["record_id"]})


@pytest.mark.reliability  # four job runs (about 60 s): make test's 15-minute budget has no room left for it
def test_the_glue_job_finds_its_files_by_the_index_and_never_scans(etl, spark, root, local_stack, shipped_env,
                                                                   tmp_path, monkeypatch):
    """Every DynamoDB request the job makes (through boto3's default session, as on Glue) is recorded: a default run
    and an incremental run that makes a full refresh read every VALID file (one Query per status), an incremental run
    with a committed state asks for the PENDING files only, and no run Scans. The incremental run also completes the
    earlier files whose records it judged again (named by its state's manifest)."""
    import boto3

    from c360.datagen.validated import write_tiny

    name = "c360-ledger-job"
    Provisioner(ProvisionConfig(env=name, table=name), config.settings(), root).ensure_table()
    table = aws.resource("dynamodb").Table(name)
    write_tiny(tmp_path / "validated")  # one customer, one purchase of it, one feedback row on that purchase

    def arrives(n: int, dataset: str, file_name: str) -> None:  # as the Lambda leaves a good file
        table.put_item(Item={
            "record_id": f"s3://lake/raw/{dataset}/{file_name}?versionId=v{n}", "dataset": dataset,
            "validation_status": "VALID", "status": "PENDING", "moved": True, "record_count": 1,
            "destination": f"validated/{dataset}/{file_name}", "source_key": f"raw/{dataset}/{file_name}",
            "received_at": _iso(BEGAN + timedelta(seconds=n))})

    requests: list[tuple[str, str | None]] = []  # (operation, the status a Query asks for)
    session = aws.session()  # the job uses boto3's default session: the factory's, with a recording hook

    def record(params, model, **_):
        requests.append((model.name, params.get("ExpressionAttributeValues", {}).get(":s")))
    session.events.register("provide-client-params.dynamodb", record, unique_id="c360-test-record")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)

    def run(output: str, run_id: str, *extra: str) -> tuple[dict, list]:
        requests.clear()
        summary = etl.run(spark, etl.parse_job_args([
            "--ledger_table", name, "--input_root", f"{tmp_path}/", "--output_root", f"{tmp_path / output}/",
            "--rules_root", f"{root / 'schemas'}/", "--metrics_namespace", "", "--now", "2026-07-01T00:00:00+00:00",
            "--JOB_RUN_ID", run_id, *extra]))
        return summary, list(requests)

    try:
        arrives(0, "customer_details", "c.xml")
        arrives(1, "purchases", "p.jsonl")
        summary, sent = run("default", "jr_default")
        assert summary["updated"] == 2 and {op for op, _ in sent} == {"Query", "UpdateItem"}, sent
        assert {s for op, s in sent if op == "Query"} == {"PENDING", "SUCCESS", "FAILED"}  # valid_items
        summary, sent = run("incremental", "jr_incremental_1", "--incremental", "true")
        assert (summary["mode"], summary["reason"], summary["new_files"]) == ("full refresh", "no state", 2)
        assert summary["updated"] == 2 and {op for op, _ in sent} == {"Query", "UpdateItem"}, sent
        assert {s for op, s in sent if op == "Query"} == {"PENDING", "SUCCESS", "FAILED"}  # every file, once full
        arrives(2, "feedback", "f.csv")
        summary, sent = run("incremental", "jr_incremental_2", "--incremental", "true")
        assert (summary["mode"], summary["new_files"], summary["files_judged"]) == ("incremental", 1, 3), summary
        assert {op for op, _ in sent} == {"Query", "UpdateItem"}, sent
        assert {s for op, s in sent if op == "Query"} == {"PENDING"}  # the state's manifest names the other files
        items = shipped.lambda_module("ledger").valid_items(table)
        assert len(items) == 3 and {(i["status"], i["glue_job_run_id"]) for i in items} == {
            ("SUCCESS", "jr_incremental_2")}  # the feedback's customer and purchase were judged again

        # a run that committed its state, then stopped before completing the ledger, leaves a file the state holds
        # PENDING: the next run completes it from the state, and touches no other item
        stuck = next(i for i in items if i["dataset"] == "feedback")
        table.update_item(Key={"record_id": stuck["record_id"]}, UpdateExpression="SET #s = :p",
                          ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":p": "PENDING"})
        summary, sent = run("incremental", "jr_incremental_3", "--incremental", "true")
        assert (summary["mode"], summary["new_files"], summary["files_judged"]) == ("incremental", 0, 0), summary
        after = {i["record_id"]: i for i in shipped.lambda_module("ledger").valid_items(table)}
        assert (after[stuck["record_id"]]["status"], after[stuck["record_id"]]["glue_job_run_id"]) == (
            "SUCCESS", "jr_incremental_3")
        assert after[stuck["record_id"]]["record_count"] == stuck["record_count"]
        assert {i["glue_job_run_id"] for r, i in after.items() if r != stuck["record_id"]} == {"jr_incremental_2"}
    finally:
        session.events.unregister("provide-client-params.dynamodb", unique_id="c360-test-record")
        aws.client("dynamodb").delete_table(TableName=name)
