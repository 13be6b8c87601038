"""`c360 lab` (`make lab`): JupyterLab on the notebooks, as root, in a container, or on a machine with no display.

Jupyter refuses to start as root without `--allow-root`, and tries to open a browser; neither helps a data engineer
on a cloud workstation. This starts `jupyter lab` with a port and token of its own choosing, waits until the server
answers, then prints the URL with the token and which kernel to pick, and stays in the foreground until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

KERNEL_ADVICE = (
    'Kernel: "Python 3 (ipykernel)", this virtualenv\'s (every notebook already names it). It has the project\'s '
    "packages and the local stand-ins for the Glue session magics. Choose \"Glue PySpark\" only in Glue Studio, "
    "against a real AWS account."
)


def free_port(host: str, preferred: int) -> int:
    """`preferred` if it is free on `host`, else any free port (0 asks for any)."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host if host not in ("0.0.0.0", "") else "127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError(f"no free port on {host}")


def command(notebook_dir: Path, ip: str, port: int, token: str, *, as_root: bool, browser: bool) -> list[str]:
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter) if jupyter.exists() else (shutil.which("jupyter") or "jupyter"), "lab",
           f"--notebook-dir={notebook_dir}", f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    if as_root:
        cmd.append("--allow-root")  # Jupyter's own guard; the server is bound to `ip` and needs the token
    if not browser:
        cmd.append("--no-browser")
    return cmd


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Until GET /api/status answers 200 with the token; raises if the server exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {proc.returncode} before it answered (its log is above)")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer {url} within {timeout:.0f} s")


def run(notebook_dir: Path, *, ip: str = "127.0.0.1", port: int = 8888, token: str | None = None,
        browser: bool | None = None, timeout: float = 120.0, once: bool = False) -> int:
    """Start the server, print where it is, and wait for it (or, with `once`, stop it as soon as it answers)."""
    token = token or secrets.token_hex(24)
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if browser is None:  # a browser only where there is a screen to show it on, and never as root
        browser = not as_root and (sys.platform == "darwin" or bool(os.environ.get("DISPLAY")
                                                                     or os.environ.get("WAYLAND_DISPLAY")))
    port = free_port(ip, port)
    host = "127.0.0.1" if ip in ("0.0.0.0", "", "localhost") else ip
    base = f"http://{host}:{port}"
    proc = subprocess.Popen(command(notebook_dir, ip, port, token, as_root=as_root, browser=browser),
                            start_new_session=True)
    try:
        wait_until_up(f"{base}/api/status?token={token}", proc, timeout)
        print("\n" + "=" * 78)
        print(f"JupyterLab is up on {notebook_dir}")
        print(f"  open:   {base}/lab?token={token}")
        if ip == "0.0.0.0":
            print(f"          (listening on every interface: use this machine's address instead of {host})")
        print(f"  {KERNEL_ADVICE}")
        print("  Start with 00_provision (the local stack is up); Ctrl-C stops the server.")
        print("=" * 78 + "\n", flush=True)
        if once:
            return 0
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
