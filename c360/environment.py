"""Checks of what the workbench needs around Python: Java for Spark, and the kernel's Glue magics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

JAVA_MAJOR_SUPPORTED = (17, 21)  # Spark 4.1 runs on Java 17 and 21; Glue 6.0 uses 17
JAVA_HELP = (
    "Spark 4.1 (what Glue 6.0 runs) needs Java 17, and the local Glue runner its javac (a JDK).\n"
    "  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jdk-headless\n"
    "  macOS:         brew install openjdk@17\n"
    "or point JAVA_HOME at an existing JDK 17."
)


def java_version() -> tuple[int | None, str]:
    """(major version or None, what `java -version` said)."""
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    if not java or not Path(java).exists():
        return None, "java not found on PATH (and JAVA_HOME not set)"
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{java} -version failed: {e}"
    text = (out.stderr or out.stdout).strip()
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None, text
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0" style
        major = int(m.group(2))
    return major, text.splitlines()[0]


def check_java() -> tuple[bool, str]:
    major, said = java_version()
    if major in JAVA_MAJOR_SUPPORTED:
        from c360.local import iam_fs

        try:
            iam_fs.javac()
        except FileNotFoundError as e:  # the local Glue runner compiles its IAM-checked S3 view for Spark
            return False, f"Java {major} but no javac: {e}"
        return True, f"Java {major} (JDK): {said}"
    return False, f"Java 17 is missing or unsupported ({said}).\n{JAVA_HELP}"


STARTUP_NAME = "50-c360-glue-magics.py"
STARTUP_CODE = '''\
# Installed by `c360 setup-kernel` (Customer 360 Workbook). IPython runs this in every kernel of this
# virtualenv: it registers local stand-ins for the AWS Glue session magics (%glue_version, %%configure, ...)
# so the notebooks run unchanged here, while Glue Studio's kernel keeps the real ones.
try:
    get_ipython().extension_manager.load_extension("c360.glue_magics")  # noqa: F821
except Exception as _e:  # never break a kernel start
    print(f"c360: local Glue magics not loaded: {_e}")
'''


def startup_file() -> Path:
    """IPython reads <sys.prefix>/etc/ipython/startup/*.py in every kernel of this environment."""
    return Path(sys.prefix) / "etc" / "ipython" / "startup" / STARTUP_NAME


def setup_kernel() -> Path:
    if sys.prefix == sys.base_prefix:
        raise RuntimeError("run this inside the project's virtualenv (make setup creates .venv)")
    path = startup_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != STARTUP_CODE:
        path.write_text(STARTUP_CODE)
    return path
