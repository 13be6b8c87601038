"""RDS CreateDBInstance starts a real PostgreSQL that psycopg reaches at the reported endpoint."""

from __future__ import annotations

import json

import psycopg
import pytest

from c360 import aws
from c360.local import stack

pytestmark = pytest.mark.e2e


def _connect(instance_id: str, password: str, dbname: str):
    ep = aws.client("rds").describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["Endpoint"]
    return psycopg.connect(host=ep["Address"], port=ep["Port"], user="c360_admin", password=password,
                           dbname=dbname, connect_timeout=10)


def test_postgres_instance_is_real_and_survives_restart_then_deletes(local_stack):
    rds = aws.client("rds")
    password = "s3cret-!pass"  # pragma: allowlist secret
    db = rds.create_db_instance(DBInstanceIdentifier="customer360-test", Engine="postgres", EngineVersion="15",
                                DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="c360_admin",
                                MasterUserPassword=password, DBName="customer360")["DBInstance"]
    described = rds.describe_db_instances(DBInstanceIdentifier="customer360-test")["DBInstances"][0]
    assert described["Endpoint"]["Address"] == "127.0.0.1" and described["Endpoint"]["Port"] > 1024
    assert db["DBInstanceIdentifier"] == "customer360-test"
    with _connect("customer360-test", password, "customer360") as conn:
        conn.execute("CREATE TABLE golden (id text PRIMARY KEY, spend numeric(14,2))")
        conn.execute("INSERT INTO golden VALUES ('c1', 10.50), ('c2', 0.00)")
        conn.commit()
    with pytest.raises(psycopg.OperationalError):
        _connect("customer360-test", "wrong-password", "customer360")
    dsns = stack.status(local_stack)["postgres"]
    assert dsns["customer360-test"].endswith(f":{described['Endpoint']['Port']}/customer360")

    stack.down(local_stack)
    stack.up(local_stack, clock_speed=600)
    with _connect("customer360-test", password, "customer360") as conn:
        rows = conn.execute("SELECT id, spend FROM golden ORDER BY id").fetchall()
    assert [(r[0], str(r[1])) for r in rows] == [("c1", "10.50"), ("c2", "0.00")]

    rds.delete_db_instance(DBInstanceIdentifier="customer360-test", SkipFinalSnapshot=True)
    assert "customer360-test" not in stack.status(local_stack)["postgres"]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=described["Endpoint"]["Port"], user="c360_admin", password=password,
                        dbname="customer360", connect_timeout=3)


def test_stop_and_start_db_instance_stop_and_start_the_server(local_stack):
    rds = aws.client("rds")
    password = "stop-start-Pw-1"  # pragma: allowlist secret
    rds.create_db_instance(DBInstanceIdentifier="stop-start", Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="c360_admin", MasterUserPassword=password,
                           DBName="customer360")
    try:
        with _connect("stop-start", password, "customer360") as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
            conn.commit()
            session = _connect("stop-start", password, "customer360")
            rds.stop_db_instance(DBInstanceIdentifier="stop-start")
        described = rds.describe_db_instances(DBInstanceIdentifier="stop-start")["DBInstances"][0]
        assert described["DBInstanceStatus"] == "stopped"
        with pytest.raises(psycopg.OperationalError):  # an open session ends with the server
            session.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            _connect("stop-start", password, "customer360")
        rds.start_db_instance(DBInstanceIdentifier="stop-start")
        assert rds.describe_db_instances(DBInstanceIdentifier="stop-start")["DBInstances"][0][
            "DBInstanceStatus"] == "available"
        with _connect("stop-start", password, "customer360") as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]
    finally:
        rds.delete_db_instance(DBInstanceIdentifier="stop-start", SkipFinalSnapshot=True)


def test_other_engines_stay_metadata(local_stack):
    db = aws.client("rds").create_db_instance(DBInstanceIdentifier="mysql-meta", Engine="mysql",
                                              DBInstanceClass="db.t3.micro", MasterUsername="admin",
                                              MasterUserPassword="password123",  # pragma: allowlist secret
                                              AllocatedStorage=20)["DBInstance"]
    assert db["Engine"] == "mysql"
    assert json.dumps(db, default=str)  # described as moto describes it
