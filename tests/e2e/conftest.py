"""One local stack for the end-to-end tests: a free port, a temporary state folder, a fast clock."""

from __future__ import annotations

import io
import json
import socket
import zipfile

import pytest
from helpers import DB_SECRET

from c360 import aws, config
from c360.local import stack

CLOCK_SPEED = 600.0  # a minute of AWS time in 0.1 s: Lambda retry delays, alarm periods


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("C360_LOCAL_PORT", str(_free_port()))
    mp.setenv("C360_STATE_DIR", str(tmp_path_factory.mktemp("c360-state")))
    mp.setenv("C360_TARGET", "local")
    mp.delenv("AWS_ENDPOINT_URL", raising=False)
    mp.delenv("AWS_PROFILE", raising=False)
    s = config.settings()
    info = stack.up(s, clock_speed=CLOCK_SPEED)
    assert info["running"], info
    yield s
    stack.down(s)
    mp.undo()


def zip_code(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()



@pytest.fixture(scope="session")
def database(local_stack):
    """A PostgreSQL instance and its secret; yields the DSN."""
    rds, sm = aws.client("rds"), aws.client("secretsmanager")
    password = "load-test-Pw-1"  # pragma: allowlist secret
    rds.create_db_instance(DBInstanceIdentifier="load-test", Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="c360_admin", MasterUserPassword=password,
                           DBName="customer360")
    ep = rds.describe_db_instances(DBInstanceIdentifier="load-test")["DBInstances"][0]["Endpoint"]
    sm.create_secret(Name=DB_SECRET, SecretString=json.dumps({
        "engine": "postgres", "username": "c360_admin", "password": password, "host": ep["Address"],
        "port": ep["Port"], "dbname": "customer360"}))
    yield f"postgresql://c360_admin:{password}@{ep['Address']}:{ep['Port']}/customer360"
    rds.delete_db_instance(DBInstanceIdentifier="load-test", SkipFinalSnapshot=True)
    sm.delete_secret(SecretId=DB_SECRET, ForceDeleteWithoutRecovery=True)


@pytest.fixture
def shipped_env(monkeypatch):
    """The shipped module makes plain boto3 clients: point them at the stack as the Glue runner does."""
    for k, v in aws.subprocess_env().items():
        monkeypatch.setenv(k, v)
