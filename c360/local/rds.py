"""RDS extension: `CreateDBInstance` with engine `postgres` starts a real local PostgreSQL server.

What it does
- initdb with the instance's master user and password (from `MasterUserPassword`, or the Secrets Manager
  secret when `ManageMasterUserPassword` is set), scram-sha-256 authentication, UTF-8; starts the server on a
  free port of 127.0.0.1; creates `DBName`; `DescribeDBInstances` reports `Endpoint` 127.0.0.1:<port>.
- The data directory is `<state>/rds/<instance id>/data`; `instance.json` beside it records the port and DSN
  (`c360 local status --json` lists them). The server is stopped when the emulator stops and started again, with
  its data, when the emulator starts (the instance reappears in DescribeDBInstances).
- `StopDBInstance` stops the server (`pg_ctl -m fast`: open sessions end, as in an outage); `StartDBInstance`
  starts it again with its data.
- `DeleteDBInstance` stops the server and removes its data, unless a final snapshot is asked for: then the data
  directory is kept under `<state>/rds/snapshots/<snapshot id>`.

PostgreSQL itself: the server binaries of Debian's `postgresql` package (PostgreSQL 15 on Debian 12, installed
by `make setup` when running as root), or any other found through `C360_PG_BIN`, `pg_config --bindir` or PATH.
PostgreSQL refuses to run as root: when the emulator runs as root, the server runs as the `postgres` user
(created by the Debian package); if that user cannot reach the state folder (a checkout under /root), the data
directory lives in /var/lib/c360-postgres/ with a symlink from the state folder.

How it differs from AWS: one local server per instance, no instance classes, storage limits, parameter groups,
Multi-AZ, backups or security groups; other engines stay metadata only.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

from c360.local.emulator_context import ACCOUNT_ID, EmulatorContext

SERVICE_USER = "postgres"


class PostgresNotFound(RuntimeError):
    pass


def pg_bin() -> Path:
    """The folder holding initdb, pg_ctl and postgres."""
    candidates = []
    if os.environ.get("C360_PG_BIN"):
        candidates.append(Path(os.environ["C360_PG_BIN"]))
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name.split(".")[0]))
    candidates += [Path(p) for p in reversed(debian)]
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists() and (c / "postgres").exists():
            return c
    raise PostgresNotFound(
        "no PostgreSQL server binaries found (initdb, pg_ctl, postgres). Install them: "
        "Debian/Ubuntu `apt-get install postgresql` (make setup does this as root), macOS `brew install "
        "postgresql@15`; or set C360_PG_BIN to their folder.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _traversable(path: Path, uid: int, gid: int) -> bool:
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


class PostgresServer:
    """One instance's server: its folders, the user it runs as, start and stop."""

    def __init__(self, ctx: EmulatorContext, instance_id: str):
        self.ctx = ctx
        self.id = instance_id
        self.home = ctx.path("rds", instance_id)
        self.meta_file = self.home / "instance.json"
        self.bin = pg_bin()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self.user = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                raise PostgresNotFound(f"running as root, PostgreSQL needs the '{SERVICE_USER}' user "
                                       "(the Debian postgresql package creates it)") from None

    @property
    def data(self) -> Path:
        """The data directory as the server sees it (a symlink's target, when the state folder is private)."""
        return (self.home / "data").resolve()

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        if self.as_root:
            kw.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
               "HOME": self.user.pw_dir if self.as_root else os.environ.get("HOME", "/tmp")}
        return subprocess.run(args, capture_output=True, text=True, env=env, cwd="/", **kw)

    def _prepare_data_dir(self) -> None:
        if not self.as_root:
            return
        uid, gid = self.user.pw_uid, self.user.pw_gid
        link = self.home / "data"
        if _traversable(self.home, uid, gid):
            link.mkdir(exist_ok=True)
            target = link
        else:  # e.g. a checkout under /root (drwx------): keep the data where postgres can reach it
            digest = hashlib.sha1(str(self.ctx.state_dir).encode()).hexdigest()[:12]
            target = Path("/var/lib/c360-postgres") / digest / self.id
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target.parent.parent, 0o755)
            if not link.is_symlink():
                link.symlink_to(target)
        for p in [target, *target.iterdir()] if target.exists() else [target]:
            os.chown(p, uid, gid)
        os.chmod(target, 0o700)

    def create(self, master_user: str, password: str, dbname: str | None) -> dict:
        self._prepare_data_dir()
        with tempfile.NamedTemporaryFile("w", delete=False, dir="/tmp") as pw:
            pw.write(password + "\n")
        try:
            if self.as_root:
                os.chown(pw.name, self.user.pw_uid, self.user.pw_gid)
            out = self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", master_user, f"--pwfile={pw.name}",
                             "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
        finally:
            os.unlink(pw.name)
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed: {out.stderr.strip() or out.stdout.strip()}")
        meta = {"id": self.id, "port": _free_port(), "user": master_user, "dbname": dbname or "postgres",
                "password": password}
        self.start(meta)
        if dbname and dbname != "postgres":
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=meta["port"], user=master_user, password=password,
                                 dbname="postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        return meta

    def start(self, meta: dict) -> None:
        port = meta["port"]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:  # taken since last time: move
                meta["port"] = port = _free_port()
        log = self.data / "postgres.log"
        out = self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-t", "60",
                         "-o", f"-p {port} -h 127.0.0.1 -k {self.data}", "start"])
        if out.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {out.stderr.strip() or out.stdout.strip()}\n{tail}")
        meta["dsn"] = f"postgresql://{meta['user']}@127.0.0.1:{port}/{meta['dbname']}"
        self.meta_file.write_text(json.dumps(meta, indent=2))
        os.chmod(self.meta_file, 0o600)  # it holds the password

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def remove(self, snapshot_id: str | None) -> None:
        self.stop()
        real = self.data
        if snapshot_id:
            dest = self.ctx.path("rds", "snapshots") / snapshot_id
            shutil.move(str(real), str(dest))
        else:
            shutil.rmtree(real, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)


def install(ctx: EmulatorContext) -> dict[str, PostgresServer]:
    from moto.rds import models as rds_models
    from moto.rds.exceptions import InvalidParameterValue

    servers: dict[str, PostgresServer] = {}
    Backend, Instance = rds_models.RDSBackend, rds_models.DBInstance
    original_create = Backend.create_db_instance
    original_delete = Backend.delete_db_instance
    original_address = Instance.address

    def address(self):
        return "127.0.0.1" if getattr(self, "c360_local", False) else original_address.fget(self)

    def create_db_instance(self, db_kwargs):
        engine = (db_kwargs.get("engine") or "").lower()
        if engine != "postgres":
            return original_create(self, db_kwargs)
        database = original_create(self, db_kwargs)
        instance_id = database.db_instance_identifier
        try:
            server = PostgresServer(ctx, instance_id)
            meta = json.loads(server.meta_file.read_text()) if server.meta_file.is_file() else None
            if meta:  # the emulator restarted: the server and its data are already there
                server.start(meta)
            else:
                password = database._master_user_password or ""  # moto hides it behind a raising property
                if getattr(database, "manage_master_user_password", False):
                    secret = database.master_user_secret.secret
                    password = json.loads(secret.secret_string).get("password", "")
                meta = server.create(database.master_username, password, database.db_name)
        except (PostgresNotFound, RuntimeError) as e:
            self.databases.pop(instance_id, None)
            raise InvalidParameterValue(f"local RDS could not start PostgreSQL: {e}") from None
        database.port = meta["port"]
        database.c360_local = True
        # enough to re-create the instance's metadata when the emulator restarts (scalars only)
        spec = {k: v for k, v in db_kwargs.items() if isinstance(v, str | int | float | bool)}
        spec_file = server.home / "create.json"
        spec_file.write_text(json.dumps(spec))
        os.chmod(spec_file, 0o600)  # it holds the master password
        servers[instance_id] = server
        return database

    def delete_db_instance(self, db_instance_identifier, final_db_snapshot_identifier=None,
                           skip_final_snapshot=False, delete_automated_backups=True):
        database = original_delete(self, db_instance_identifier, final_db_snapshot_identifier,
                                   skip_final_snapshot, delete_automated_backups)
        server = servers.pop(db_instance_identifier, None)
        if server is not None:
            server.remove(final_db_snapshot_identifier if not skip_final_snapshot else None)
        return database

    original_stop = Backend.stop_db_instance
    original_start = Backend.start_db_instance

    def stop_db_instance(self, db_instance_identifier, db_snapshot_identifier=None):
        database = original_stop(self, db_instance_identifier, db_snapshot_identifier)
        server = servers.get(db_instance_identifier)
        if server is not None:  # pg_ctl -m fast: open sessions are ended, as when RDS stops an instance
            server.stop()
        return database

    def start_db_instance(self, db_instance_identifier):
        server = servers.get(db_instance_identifier)
        if server is not None:
            meta = json.loads(server.meta_file.read_text())
            server.start(meta)
            self.describe_db_instances(db_instance_identifier)[0].port = meta["port"]
        return original_start(self, db_instance_identifier)

    Backend.create_db_instance = create_db_instance
    Backend.delete_db_instance = delete_db_instance
    Backend.stop_db_instance = stop_db_instance
    Backend.start_db_instance = start_db_instance
    Instance.address = property(address)
    return servers


def restore(ctx: EmulatorContext) -> list[str]:
    """Bring back the instances whose servers existed when the emulator stopped."""
    from moto.rds import rds_backends

    restored = []
    for spec_file in sorted((ctx.state_dir / "rds").glob("*/create.json")):
        spec = json.loads(spec_file.read_text())
        rds_backends[ACCOUNT_ID][ctx.region].create_db_instance(spec)
        restored.append(spec["db_instance_identifier"])
    return restored


def stop_all(servers: dict[str, PostgresServer]) -> None:
    for server in servers.values():
        server.stop()
