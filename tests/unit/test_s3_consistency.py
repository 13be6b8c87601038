"""c360/local/s3_consistency.py on moto's S3 backend in process: the moment a DELETE has emptied a key's versions
but not yet removed the key (CI met it once: a GET by version answered 500 `KeyError`)."""

from __future__ import annotations


def test_a_key_emptied_by_a_delete_in_progress_reads_as_absent():
    from moto.s3.models import s3_backends

    from c360.local import s3_consistency

    s3_consistency.install()
    backend = s3_backends["123456789012"]["aws"]
    backend.create_bucket("consistency-unit", "us-east-1")
    backend.put_object("consistency-unit", "k", b"bytes")
    assert backend.get_object("consistency-unit", "k").value == b"bytes"
    keys = backend.buckets["consistency-unit"].keys
    dict.__setitem__(keys, "k", [])  # the DELETE's state between emptying the versions and removing the key
    assert backend.get_object("consistency-unit", "k") is None  # absent (404), not a KeyError (500)
    dict.__delitem__(keys, "k")
    assert backend.get_object("consistency-unit", "k") is None
