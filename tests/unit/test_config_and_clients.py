"""Settings resolution and the one client factory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from c360 import aws, config


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("C360_TARGET", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL",
                "C360_LOCAL_PORT", "C360_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_local_is_the_default_and_points_at_the_emulator(clean_env):
    s = config.settings()
    assert s.target == "local" and s.is_local
    assert s.endpoint_url == "http://127.0.0.1:4566"
    assert s.region == "us-east-1"
    assert s.state_dir == config.project_root() / ".c360"


def test_environment_overrides(clean_env, tmp_path):
    clean_env.setenv("C360_LOCAL_PORT", "4999")
    clean_env.setenv("AWS_REGION", "eu-west-1")
    clean_env.setenv("C360_STATE_DIR", str(tmp_path))
    s = config.settings()
    assert (s.endpoint_url, s.region, s.state_dir) == ("http://127.0.0.1:4999", "eu-west-1", tmp_path.resolve())
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5555")  # the standard variable wins
    assert config.settings().endpoint_url == "http://127.0.0.1:5555"


def test_aws_target_uses_profile_and_no_endpoint(clean_env):
    clean_env.setenv("C360_TARGET", "aws")
    clean_env.setenv("AWS_PROFILE", "analytics")
    s = config.settings()
    assert (s.target, s.profile, s.endpoint_url) == ("aws", "analytics", None)


def test_unknown_target_is_refused(clean_env):
    with pytest.raises(ValueError, match="unknown target"):
        config.settings(target="azure")


def test_clients_carry_endpoint_region_and_local_credentials(clean_env):
    clean_env.setenv("C360_LOCAL_PORT", "4777")
    s3 = aws.client("s3")
    assert s3.meta.endpoint_url == "http://127.0.0.1:4777"
    assert s3.meta.region_name == "us-east-1"
    creds = aws.session().get_credentials()
    assert (creds.access_key, creds.secret_key) == (config.LOCAL_ACCESS_KEY, config.LOCAL_SECRET_KEY)
    table = aws.resource("dynamodb").Table("t")
    assert table.meta.client.meta.endpoint_url == "http://127.0.0.1:4777"


def test_subprocess_env_points_children_at_the_same_target(clean_env):
    env = aws.subprocess_env(config.settings())
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ACCESS_KEY_ID"] == config.LOCAL_ACCESS_KEY
    clean_env.setenv("C360_TARGET", "aws")
    clean_env.setenv("AWS_PROFILE", "p")
    env = aws.subprocess_env(config.settings())
    assert "AWS_ENDPOINT_URL" not in env and "AWS_ACCESS_KEY_ID" not in env and env["AWS_PROFILE"] == "p"


# Built from parts so this file does not match itself.
_FORBIDDEN = re.compile(
    r"boto3\s*\.\s*(client|resource|Session|session\.Session)\s*\(|" + "endpoint" + r"_url\s*=\s*['\"]")


def test_nothing_but_the_factory_builds_clients_or_endpoints(root: Path):
    """Workbench code, tests and benchmarks get clients from c360.aws only (shipped code uses plain boto3)."""
    offenders = []
    for folder in ("c360", "tests", "bench"):
        for path in (root / folder).rglob("*.py"):
            if path == root / "c360" / "aws.py" or "fixtures" in path.parts:
                continue  # fixtures play the part of shipped code, which uses plain boto3
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert offenders == []
    assert _FORBIDDEN.search("s3 = boto3." + "client('s3')")  # the pattern does catch a direct client
