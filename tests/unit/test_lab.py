"""`c360 lab` (what `make lab` runs) starts JupyterLab as root and with no display, and prints a URL that answers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from c360 import lab


def test_command_adds_allow_root_only_as_root_and_never_a_browser_without_one(tmp_path):
    as_root = lab.command(tmp_path, "127.0.0.1", 9999, "t", as_root=True, browser=False)
    assert "--allow-root" in as_root and "--no-browser" in as_root and "--ServerApp.port_retries=0" in as_root
    plain = lab.command(tmp_path, "127.0.0.1", 9999, "t", as_root=False, browser=True)
    assert "--allow-root" not in plain and "--no-browser" not in plain


@pytest.mark.slow
def test_lab_starts_prints_a_working_url_with_its_token_and_the_kernel(root, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}  # no screen
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    proc = subprocess.Popen([sys.executable, "-m", "c360.cli", "lab", "--port", "0", "--timeout", "90"], cwd=root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    out, url = [], None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            m = re.search(r"open:\s+(http://\S+/lab\?token=(\w+))", line)
            url = m and m.group(1)
        assert url, "".join(out)
        while not any("Kernel:" in line for line in out):
            out.append(proc.stdout.readline())
        assert any('"Python 3 (ipykernel)"' in line for line in out), "".join(out)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
        with pytest.raises(urllib.error.HTTPError) as denied:  # the token is what guards it
            urllib.request.urlopen(url.split("/lab?")[0] + "/api/contents", timeout=10)
        assert denied.value.code == 403
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) is not None
