"""One local stack for the end-to-end tests: a free port, a temporary state folder, a fast clock."""

from __future__ import annotations

import io
import socket
import zipfile

import pytest

from c360 import config
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
