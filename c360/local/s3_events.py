"""S3 notifications extension: event records carry the object's version id and a sequencer, as on AWS.

moto's records name the key, size and ETag only. AWS adds `versionId` (for a versioned bucket) and `sequencer`,
and the validation Lambda keys its ledger on the version, so the local events carry both too. Keys stay
URL-encoded, as on AWS.
"""

from __future__ import annotations

import itertools

from c360.local.emulator_context import EmulatorContext

_sequence = itertools.count(1)


def install(ctx: EmulatorContext) -> None:
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def _get_s3_event(event_name, bucket, key, notification_id):
        event = original(event_name, bucket, key, notification_id)
        obj = event["Records"][0]["s3"]["object"]
        version = getattr(key, "version_id", None)
        if version and version != "null":
            obj["versionId"] = version
        obj["sequencer"] = f"{next(_sequence):016X}"
        return event

    notifications._get_s3_event = _get_s3_event
