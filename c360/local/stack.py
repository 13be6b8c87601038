"""`c360 local up | down | status | reset`: start, stop and inspect the local AWS stack.

The emulator runs as a background process (c360/local/server.py) on 127.0.0.1 with its state under the
project's git-ignored state folder (`.c360/` by default, `C360_STATE_DIR` to move it), its log in
`<state>/logs/emulator.log`. `up` returns once the emulator answers; `down` lets it write its snapshot.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from c360 import config

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


class StackError(RuntimeError):
    pass


def _port(s: config.Settings) -> int:
    return int(os.environ.get("C360_LOCAL_PORT") or config.DEFAULT_LOCAL_PORT)


def _ready_file(s: config.Settings) -> Path:
    return s.state_dir / "emulator.json"


def _log_file(s: config.Settings) -> Path:
    return s.state_dir / "logs" / "emulator.log"


EXITED: dict[int, int] = {}  # pid -> exit code (negative: killed by that signal) of emulators this process reaped


def _alive(pid: int) -> bool:
    try:  # reap it if this process started it (tests do), else a zombie would look alive
        reaped, wait_status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            EXITED[pid] = os.waitstatus_to_exitcode(wait_status)
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _probe(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://{config.LOCAL_HOST}:{port}/_c360/status", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def _control(s: config.Settings | None, path: str, payload: dict, what: str) -> dict:
    """POST a JSON payload to one of the running emulator's control paths (server.py); its JSON answer."""
    s = s or config.settings(target=config.LOCAL)
    if not status(s)["running"]:
        raise StackError(f"no local stack with state {s.state_dir} is running")
    req = urllib.request.Request(f"http://{config.LOCAL_HOST}:{_port(s)}{path}", method="POST",
                                 data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise StackError(f"the emulator refused {what}: {e.read().decode(errors='replace')}") from e


def set_clock(s: config.Settings | None = None, speed: float = 1.0) -> float:
    """Change the running emulator's clock speed (AWS seconds per real second); returns the new speed."""
    return _control(s, "/_c360/clock", {"speed": speed}, f"clock speed {speed}")["clock_speed"]


def set_faults(s: config.Settings | None = None, **faults) -> dict:
    """Inject faults into the running emulator (server.FAULTS_PATH); no arguments restores normal behaviour."""
    return _control(s, "/_c360/faults", faults, f"faults {faults}")


def status(s: config.Settings | None = None) -> dict:
    s = s or config.settings(target=config.LOCAL)
    port = _port(s)
    info = _probe(port)
    running = bool(info) and Path(info.get("state_dir", "")) == s.state_dir
    mailbox = s.state_dir / "mailbox"
    result = {
        "running": running,
        "endpoint": f"http://{config.LOCAL_HOST}:{port}",
        "pid": info.get("pid") if running else None,
        "state_dir": str(s.state_dir),
        "log": str(_log_file(s)),
        "mailbox": str(mailbox),
        "mailbox_messages": len(list((mailbox / "new").glob("*.eml"))) + len(list((mailbox / "cur").glob("*.eml"))),
        "postgres": _postgres_dsns(s),
        "extensions": info.get("extensions", []) if running else [],
        "clock_speed": info.get("clock_speed") if running else None,
        "iam": info.get("iam") if running else None,  # requests authorized / denied per principal (None: not enforced)
    }
    if info and not running:
        result["conflict"] = f"port {port} is served by an emulator with state {info.get('state_dir')}"
    return result


def _postgres_dsns(s: config.Settings) -> dict:
    """DSNs of the PostgreSQL servers the RDS extension started (none until it exists)."""
    out = {}
    for f in sorted((s.state_dir / "rds").glob("*/instance.json")):
        meta = json.loads(f.read_text())
        out[meta["id"]] = meta.get("dsn")
    return out


def up(s: config.Settings | None = None, clock_speed: float | None = None, quiet: bool = False) -> dict:
    s = s or config.settings(target=config.LOCAL)
    current = status(s)
    if current["running"]:
        return current
    if "conflict" in current:
        raise StackError(current["conflict"] + ": stop it first, or set C360_LOCAL_PORT")
    port = _port(s)
    with socket.socket() as sock:
        if sock.connect_ex((config.LOCAL_HOST, port)) == 0:
            raise StackError(f"port {port} on {config.LOCAL_HOST} is taken by another program: set C360_LOCAL_PORT")
    log = _log_file(s)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "c360.local.server", "--port", str(port), "--state-dir", str(s.state_dir),
           "--region", s.region]
    if clock_speed:
        cmd += ["--clock-speed", str(clock_speed)]
    env = dict(os.environ)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    t0 = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    while time.monotonic() - t0 < READY_TIMEOUT:
        if proc.poll() is not None:
            raise StackError(f"the emulator exited with code {proc.returncode}:\n{_tail(log)}")
        ready = _ready_file(s)
        if ready.is_file() and json.loads(ready.read_text() or "{}").get("pid") == proc.pid:
            result = status(s)
            result["ready_seconds"] = round(time.monotonic() - t0, 2)
            return result
        time.sleep(0.1)
    proc.terminate()
    raise StackError(f"the emulator did not get ready in {READY_TIMEOUT:.0f} s:\n{_tail(log)}")


def down(s: config.Settings | None = None) -> dict:
    s = s or config.settings(target=config.LOCAL)
    current = status(s)
    if not current["running"]:
        # it may be too busy to answer its status page: the ready file still names it
        ready = _ready_file(s)
        pid = json.loads(ready.read_text() or "{}").get("pid") if ready.is_file() else None
        if not pid or not _alive(pid):
            if pid in EXITED:
                current["exited"] = EXITED[pid]
            return current
    else:
        pid = current["pid"]
    t0 = time.monotonic()
    try:  # asked over HTTP first: a request thread sets the stop event (a busy emulator once sat through SIGTERM)
        req = urllib.request.Request(f"http://{config.LOCAL_HOST}:{_port(s)}/_c360/stop", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=5).close()
        signalled = False
    except OSError:
        os.kill(pid, signal.SIGTERM)
        signalled = True
    while _alive(pid) and time.monotonic() - t0 < STOP_TIMEOUT:
        if not signalled and time.monotonic() - t0 > STOP_TIMEOUT / 2:
            os.kill(pid, signal.SIGTERM)
            signalled = True
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    try:  # what the emulator started (Lambda processes, Spark jobs) shares its process group
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    result = status(s)
    result["stopped_seconds"] = round(time.monotonic() - t0, 2)
    return result


def reset(s: config.Settings | None = None) -> list[str]:
    """Stop the stack and delete its state (snapshot, mailbox, unpacked code, logs). Returns what was removed."""
    s = s or config.settings(target=config.LOCAL)
    was_running = status(s)["running"]
    if was_running:
        down(s)
    removed = []
    if s.state_dir.is_dir():
        for child in sorted(s.state_dir.iterdir()):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
            removed.append(str(child))
    if was_running:
        up(s)
    return removed


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
