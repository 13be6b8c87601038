"""Where the workbench runs and against what: target, region, profile, endpoint, state folder.

Everything is read from the environment once per call, so tests can monkeypatch variables. The only
hard-coded endpoint and credentials of the project live here (the local emulator's), and only
`c360.aws` turns them into clients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LOCAL = "local"
AWS = "aws"
TARGETS = (LOCAL, AWS)

DEFAULT_REGION = "us-east-1"
DEFAULT_LOCAL_PORT = 4566
LOCAL_HOST = "127.0.0.1"
# The emulator accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"  # pragma: allowlist secret


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the current directory."""
    if os.environ.get("C360_HOME"):
        return Path(os.environ["C360_HOME"]).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "notebooks").is_dir():
        return here
    return Path.cwd().resolve()


@dataclass(frozen=True)
class Settings:
    target: str
    region: str
    profile: str | None
    endpoint_url: str | None
    state_dir: Path

    @property
    def is_local(self) -> bool:
        return self.target == LOCAL


def settings(target: str | None = None, region: str | None = None, profile: str | None = None) -> Settings:
    """Resolve the settings: explicit arguments, then C360_* / AWS_* variables, then defaults."""
    target = (target or os.environ.get("C360_TARGET") or LOCAL).lower()
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    state_dir = Path(os.environ.get("C360_STATE_DIR") or project_root() / ".c360").resolve()
    if target == LOCAL:
        # AWS_ENDPOINT_URL is the standard variable boto3 itself honours; the port is ours to choose.
        port = int(os.environ.get("C360_LOCAL_PORT") or DEFAULT_LOCAL_PORT)
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or f"http://{LOCAL_HOST}:{port}"
        return Settings(LOCAL, region, None, endpoint, state_dir)
    profile = profile or os.environ.get("AWS_PROFILE") or None
    return Settings(AWS, region, profile, os.environ.get("AWS_ENDPOINT_URL") or None, state_dir)
