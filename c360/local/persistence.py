"""What survives `c360 local down` then `up`: S3 buckets and objects, DynamoDB tables (with their global secondary
indexes) and items, secrets.

moto keeps everything in memory. On shutdown the emulator writes a snapshot under `<state>/snapshot/`
through its own API; on start it replays it before it reports ready. Other resources (functions, jobs,
topics, alarms, ...) are re-created by running 00_provision again (docs/ARCHITECTURE.md). Secrets are kept because
the local PostgreSQL keeps its data and master password: a re-created secret would hold a new password the server
does not know (the snapshot file is readable by its owner only).

Every version of every object is kept with its version id (a file still waiting in raw/ is known to the ledger by
its version), oldest first; keys whose current version is a delete marker are not kept. Differences from AWS:
last-modified times are those of the restore; bucket settings kept are versioning, encryption,
public access block, lifecycle, tags and notifications.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from botocore.exceptions import ClientError

from c360 import aws
from c360.local.emulator_context import EmulatorContext

_BUCKET_SETTINGS = (
    # (get call, result key, put call, put argument)
    ("get_bucket_versioning", None, "put_bucket_versioning", "VersioningConfiguration"),
    ("get_bucket_encryption", "ServerSideEncryptionConfiguration", "put_bucket_encryption",
     "ServerSideEncryptionConfiguration"),
    ("get_public_access_block", "PublicAccessBlockConfiguration", "put_public_access_block",
     "PublicAccessBlockConfiguration"),
    ("get_bucket_lifecycle_configuration", "Rules", "put_bucket_lifecycle_configuration", "LifecycleConfiguration"),
    ("get_bucket_tagging", "TagSet", "put_bucket_tagging", "Tagging"),
)


SNAPSHOT_HEADER = "x-c360-snapshot"  # the only requests a stopping (frozen) emulator still serves


def _client(ctx: EmulatorContext, service: str):
    """A client whose requests pass the freeze of a stopping emulator (server._status_app)."""
    c = aws.client(service, ctx.settings())
    c.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(SNAPSHOT_HEADER, "1"))
    return c


def snapshot(ctx: EmulatorContext) -> dict:
    """Write S3 and DynamoDB to <state>/snapshot (replacing the previous one). Returns counts.

    The server is frozen first (only this function's requests are served): a Lambda or Glue run still going
    cannot change S3 between this reading S3 and reading the ledger, so the snapshot is one moment, as a crash
    would leave it."""
    final = ctx.state_dir / "snapshot"
    work = ctx.state_dir / "snapshot.new"
    shutil.rmtree(work, ignore_errors=True)
    (work / "s3").mkdir(parents=True)
    counts = {"buckets": 0, "objects": 0, "tables": 0, "items": 0, "secrets": 0}
    s3 = _client(ctx, "s3")
    buckets = []
    for b in s3.list_buckets().get("Buckets", []):
        name = b["Name"]
        settings = {}
        for get, key, _, arg in _BUCKET_SETTINGS:
            try:
                got = getattr(s3, get)(Bucket=name)
            except ClientError:
                continue
            got.pop("ResponseMetadata", None)
            if get == "get_bucket_versioning":
                if got.get("Status"):
                    settings[arg] = {"Status": got["Status"]}
            elif get == "get_bucket_lifecycle_configuration":
                settings[arg] = {"Rules": got[key]}
            elif get == "get_bucket_tagging":
                settings[arg] = {"TagSet": got[key]}
            else:
                settings[arg] = got[key]
        notification = s3.get_bucket_notification_configuration(Bucket=name)
        notification.pop("ResponseMetadata", None)
        objects = []
        for key, versions in _versions(s3, name).items():
            for v in versions:  # oldest first; a file still waiting in raw/ keeps the version id it is known by
                args = {} if v["VersionId"] == "null" else {"VersionId": v["VersionId"]}
                blob = work / "s3" / hashlib.sha256(f"{name}/{key}/{v['VersionId']}".encode()).hexdigest()
                try:
                    head = s3.head_object(Bucket=name, Key=key, **args)
                    s3.download_file(name, key, str(blob), ExtraArgs=args or None)
                except ClientError as e:  # deleted since it was listed: not part of the state any more
                    if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NoSuchVersion"):
                        raise
                    continue
                objects.append({"Key": key, "VersionId": v["VersionId"], "File": blob.name,
                                "ContentType": head.get("ContentType"), "Metadata": head.get("Metadata", {})})
        buckets.append({"Name": name, "Settings": settings, "Notification": notification, "Objects": objects})
        counts["buckets"] += 1
        counts["objects"] += len(objects)
    ddb = _client(ctx, "dynamodb")
    tables = []
    for name in ddb.list_tables().get("TableNames", []):
        desc = ddb.describe_table(TableName=name)["Table"]
        items = []
        for page in ddb.get_paginator("scan").paginate(TableName=name):
            items.extend(page["Items"])
        spec = {"TableName": name, "KeySchema": desc["KeySchema"], "AttributeDefinitions": desc["AttributeDefinitions"],
                "BillingMode": desc.get("BillingModeSummary", {}).get("BillingMode", "PAY_PER_REQUEST")}
        if spec["BillingMode"] == "PROVISIONED":
            spec["ProvisionedThroughput"] = {k: desc["ProvisionedThroughput"][k]
                                             for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        indexes = []
        for g in desc.get("GlobalSecondaryIndexes", []):  # e.g. the ledger's status-received_at (lambda/ledger.py)
            index = {k: g[k] for k in ("IndexName", "KeySchema", "Projection")}
            if spec["BillingMode"] == "PROVISIONED":
                index["ProvisionedThroughput"] = {k: g["ProvisionedThroughput"][k]
                                                  for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
            indexes.append(index)
        if indexes:
            spec["GlobalSecondaryIndexes"] = indexes
        tables.append({"Spec": spec, "Items": items})
        counts["tables"] += 1
        counts["items"] += len(items)
    sm = _client(ctx, "secretsmanager")
    secrets = []
    for page in sm.get_paginator("list_secrets").paginate():
        for meta in page.get("SecretList", []):
            try:
                value = sm.get_secret_value(SecretId=meta["ARN"])
            except ClientError:
                continue  # scheduled for deletion, or no value yet
            secrets.append({"Name": meta["Name"], "SecretString": value.get("SecretString", ""),
                            "Description": meta.get("Description", ""), "Tags": meta.get("Tags", [])})
    counts["secrets"] = len(secrets)
    index = work / "snapshot.json"
    index.touch(mode=0o600)
    index.write_text(json.dumps({"buckets": buckets, "tables": tables, "secrets": secrets}, default=str))
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    return counts


def restore(ctx: EmulatorContext) -> dict:
    """Replay <state>/snapshot into a fresh emulator. Objects go in before notifications are switched on."""
    folder = ctx.state_dir / "snapshot"
    index = folder / "snapshot.json"
    counts = {"buckets": 0, "objects": 0, "tables": 0, "items": 0, "secrets": 0}
    if not index.is_file():
        return counts
    data = json.loads(index.read_text())
    s3 = aws.client("s3", ctx.settings())
    for b in data["buckets"]:
        kwargs = {}
        if ctx.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        s3.create_bucket(Bucket=b["Name"], **kwargs)
        for _, _, put, arg in _BUCKET_SETTINGS:
            if arg in b["Settings"]:
                getattr(s3, put)(Bucket=b["Name"], **{arg: b["Settings"][arg]})
        for obj in b["Objects"]:
            extra = {"Metadata": obj["Metadata"]}
            if obj.get("ContentType"):
                extra["ContentType"] = obj["ContentType"]
            s3.upload_file(str(folder / "s3" / obj["File"]), b["Name"], obj["Key"], ExtraArgs=extra)
            if obj.get("VersionId", "null") != "null":
                _keep_version_id(b["Name"], obj["Key"], obj["VersionId"])
        if any(b["Notification"].get(k) for k in ("LambdaFunctionConfigurations", "QueueConfigurations",
                                                   "TopicConfigurations")):
            try:
                s3.put_bucket_notification_configuration(Bucket=b["Name"], NotificationConfiguration=b["Notification"],
                                                         SkipDestinationValidation=True)
            except ClientError:
                pass  # its targets are gone until 00_provision runs again, which sets it anew
        counts["buckets"] += 1
        counts["objects"] += len(b["Objects"])
    ddb = aws.client("dynamodb", ctx.settings())
    for t in data["tables"]:
        ddb.create_table(**t["Spec"])
        items = t["Items"]
        for i in range(0, len(items), 25):
            ddb.batch_write_item(RequestItems={t["Spec"]["TableName"]: [
                {"PutRequest": {"Item": item}} for item in items[i:i + 25]]})
        counts["tables"] += 1
        counts["items"] += len(items)
    sm = aws.client("secretsmanager", ctx.settings())
    for secret in data.get("secrets", []):
        kwargs = {"Name": secret["Name"], "SecretString": secret["SecretString"]}
        if secret.get("Description"):
            kwargs["Description"] = secret["Description"]
        if secret.get("Tags"):
            kwargs["Tags"] = secret["Tags"]
        sm.create_secret(**kwargs)
        counts["secrets"] += 1
    return counts


def _versions(s3, bucket: str) -> dict[str, list[dict]]:
    """Key -> its object versions, oldest first; keys whose current version is a delete marker are left out."""
    found: dict[str, list[dict]] = {}
    deleted: set[str] = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            found.setdefault(v["Key"], []).append(v)
        deleted |= {m["Key"] for m in page.get("DeleteMarkers", []) if m.get("IsLatest")}
    return {k: vs[::-1] for k, vs in found.items() if k not in deleted}  # S3 lists each key's newest first


def _keep_version_id(bucket: str, key: str, version_id: str) -> None:
    """Give the object version just restored the id it had (moto draws a new one; the S3 API cannot set it).
    Runs inside the emulator, after the put and before the bucket's notifications are switched on."""
    from moto.s3.models import s3_backends

    from c360.local.emulator_context import ACCOUNT_ID

    s3_backends[ACCOUNT_ID]["aws"].get_bucket(bucket).keys.getlist(key)[-1]._version_id = version_id


def clear(state_dir: Path) -> None:
    shutil.rmtree(state_dir / "snapshot", ignore_errors=True)
