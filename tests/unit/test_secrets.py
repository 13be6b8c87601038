"""No secret in the repository or in a committed notebook: Yelp's detect-secrets over every tracked file.

Credentials that are meant to be in the code (the local emulator's fixed keys, throwaway passwords of test
databases, a documented example DSN) carry detect-secrets' inline `pragma: allowlist secret` comment, so each one
is a visible, reviewed decision.
"""

from __future__ import annotations

import subprocess

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings


def _scan(paths: list[str]) -> dict[str, list[dict]]:
    found = SecretsCollection()
    with default_settings():
        found.scan_files(*paths)
    return found.json()


def test_no_secret_in_tracked_files_or_notebooks(root):
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.split("\0")
    paths = [str(root / p) for p in tracked if p and (root / p).is_file()]
    assert any(p.endswith(".ipynb") for p in paths) and len(paths) > 50
    found = _scan(paths)
    report = [f"{f}:{s['line_number']} {s['type']}" for f, ss in found.items() for s in ss]
    assert report == [], "secrets found (remove them, or mark a deliberate test value with the pragma):\n" + \
        "\n".join(report)


def test_the_scanner_finds_what_it_should(tmp_path):
    leaky = tmp_path / "leaky.py"
    key_id = "AKIA" + "ZQ3DRSTUVWXY4ABC"  # split so that this file itself stays clean
    leaky.write_text(f'aws_access_key_id = "{key_id}"\npassword = "{"hunter2" + "-very-secret"}"\n'
                     f'dsn = "postgresql://admin:{"s3cr" + "etpw"}@db.example.com:5432/x"\n')
    notebook = tmp_path / "leaky.ipynb"
    notebook.write_text('{"cells": [{"cell_type": "code", "source": ["secret_key = \\"'
                        + "wJalrXUtnFEMI" + '/K7MDENG/bPxRfiCYEXAMPLEKEY\\""]}]}')
    found = _scan([str(leaky), str(notebook)])
    types = {s["type"] for ss in found.values() for s in ss}
    assert {"AWS Access Key", "Secret Keyword", "Basic Auth Credentials"} <= types, types
    assert any(f.endswith("leaky.ipynb") for f in found)  # notebooks are scanned too
