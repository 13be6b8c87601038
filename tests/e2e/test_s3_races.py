"""Reads of an object version racing its DELETE answer as AWS does: the complete bytes, or 404, never 500.

The held-out failure: the Glue runner staging `raw/` GOT a version the validation Lambda was deleting (its move
is copy + delete) and the emulator answered 500 (`ValueError: I/O operation on closed file` inside moto: the
DELETE closed the version's buffer under the GET). Each round puts a version, then GETs (whole, by version, with
a Range), HEADs and copies it from several threads while another thread deletes it. botocore retries a 500 by
default, which would hide it: these clients make one attempt only. Bounded: ROUNDS rounds or BUDGET_S seconds.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from c360 import aws

pytestmark = pytest.mark.e2e

BUCKET = "race-lake"
COPIES = "race-lake-validated"  # unversioned: each round's copy replaces the last (keeps the buckets small)
ROUNDS = 300
BUDGET_S = 60.0
SMALL = 300 * 1024  # kept in memory by moto's SpooledTemporaryFile (its limit: 5 MiB - 1 KiB)
LARGE = 5 * 1024 * 1024 + 4096  # every LARGE_EVERY-th round: rolled over to a file on disk
LARGE_EVERY = 15
GONE = {"404", "NoSuchKey", "NoSuchVersion"}


def _one_attempt_client():
    return aws.client("s3", config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16,
                                          connect_timeout=5, read_timeout=60))


@pytest.mark.reliability  # a race under load for up to a minute: the reliability suite
def test_reads_racing_a_delete_get_the_bytes_or_404_never_500(local_stack):
    s3 = _one_attempt_client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=COPIES)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def record(what: str, outcome: str, detail: str = "") -> None:
        with lock:
            outcomes[f"{what}:{outcome}"] += 1
            if outcome not in ("ok", "gone"):
                failures.append(f"{what} {outcome} {detail}"[:300])

    def read(what: str, key: str, version: str, data: bytes, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            if what == "get-version":
                got = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
                ok = got == data
            elif what == "get-latest":
                got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                ok = got == data
            elif what == "get-range":
                got = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version, Range="bytes=1000-70999")["Body"].read()
                ok = got == data[1000:71000]
            elif what == "head":
                head = s3.head_object(Bucket=BUCKET, Key=key, VersionId=version)
                ok = head["ContentLength"] == len(data)
            elif what == "list":  # the Glue runner's staging lists, then GETs
                listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/purchases/").get("Contents", [])
                versions = s3.list_object_versions(Bucket=BUCKET, Prefix="raw/purchases/").get("Versions", [])
                ok = all(o["Key"] == key and o["Size"] == len(data) for o in listed + versions)
            else:  # copy: the Lambda's move reads the source version
                dest = "validated/purchases/moved.csv"
                s3.copy_object(Bucket=COPIES, Key=dest, CopySource={"Bucket": BUCKET, "Key": key, "VersionId": version})
                ok = s3.get_object(Bucket=COPIES, Key=dest)["Body"].read() == data
            record(what, "ok" if ok else "wrong-bytes", f"{key} {version}")
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in GONE or (what == "head" and status == 404):
                record(what, "gone")
            else:
                record(what, f"http-{status}", f"{code} {e}")
        except Exception as e:  # a torn body, a dropped connection: a failure too
            record(what, type(e).__name__, str(e))

    def delete(key: str, version: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        time.sleep(random.random() * 0.004)
        try:
            s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
            record("delete", "ok")
        except ClientError as e:
            record("delete", f"http-{e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}", str(e))

    readers = ["get-version", "get-version", "get-latest", "get-range", "head", "copy", "list"]
    started = time.monotonic()
    rounds = 0
    while rounds < ROUNDS and time.monotonic() - started < BUDGET_S:
        key = f"raw/purchases/race-{rounds:04d}.csv"
        data = os.urandom(LARGE if rounds % LARGE_EVERY == 0 else SMALL)
        version = s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"]
        barrier = threading.Barrier(len(readers) + 1)
        threads = [threading.Thread(target=read, args=(w, key, version, data, barrier)) for w in readers]
        threads.append(threading.Thread(target=delete, args=(key, version, barrier)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        rounds += 1

    print(f"\n{rounds} rounds in {time.monotonic() - started:.1f}s: {dict(sorted(outcomes.items()))}")
    assert not failures, f"{len(failures)} failed reads of {rounds} rounds, e.g. {failures[:5]}"
    assert rounds >= 20  # the bound was not eaten by something else
    assert outcomes["delete:ok"] == rounds
    gone = sum(n for k, n in outcomes.items() if k.endswith(":gone"))
    assert gone, "no read lost the race: the test no longer exercises it"
