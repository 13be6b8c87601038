"""The one place where boto3 sessions, clients and resources are made (as awswrangler does).

Region, profile, endpoint and (for the local emulator) credentials are resolved by `c360.config`;
nothing else in the workbench calls `boto3.client`, `boto3.resource` or `boto3.Session`
(a test greps for it). The shipped artifacts (`lambda/`, `exported_jobs/`) make their own plain
clients, which read the standard `AWS_ENDPOINT_URL` that `subprocess_env` hands them.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from c360 import config

_lock = threading.Lock()
_sessions: dict[tuple, boto3.Session] = {}

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=120)


def session(s: config.Settings | None = None) -> boto3.Session:
    s = s or config.settings()
    key = (s.target, s.region, s.profile)
    with _lock:  # boto3 sessions are not thread-safe to create; clients made from them are.
        if key not in _sessions:
            if s.is_local:
                _sessions[key] = boto3.Session(
                    aws_access_key_id=config.LOCAL_ACCESS_KEY,
                    aws_secret_access_key=config.LOCAL_SECRET_KEY,
                    region_name=s.region,
                )
            else:
                _sessions[key] = boto3.Session(profile_name=s.profile, region_name=s.region)
        return _sessions[key]


def client(service: str, s: config.Settings | None = None, **kwargs: Any):
    """A boto3 client for `service` against the resolved target (the emulator when local)."""
    s = s or config.settings()
    kwargs.setdefault("endpoint_url", s.endpoint_url)
    kwargs.setdefault("config", _BOTO_CONFIG)
    return session(s).client(service, **kwargs)


def resource(service: str, s: config.Settings | None = None, **kwargs: Any):
    s = s or config.settings()
    kwargs.setdefault("endpoint_url", s.endpoint_url)
    kwargs.setdefault("config", _BOTO_CONFIG)
    return session(s).resource(service, **kwargs)


def subprocess_env(s: config.Settings | None = None) -> dict[str, str]:
    """Variables that point a child process (Lambda code, spark-submit, papermill) at the same target."""
    s = s or config.settings()
    env = {"AWS_REGION": s.region, "AWS_DEFAULT_REGION": s.region}
    if s.endpoint_url:
        env["AWS_ENDPOINT_URL"] = s.endpoint_url
    if s.is_local:
        env["AWS_ACCESS_KEY_ID"] = config.LOCAL_ACCESS_KEY
        env["AWS_SECRET_ACCESS_KEY"] = config.LOCAL_SECRET_KEY
    elif s.profile:
        env["AWS_PROFILE"] = s.profile
    return env
