"""Spark's S3 requests in a local Glue run, authorized as the job's role (IamCheckedFileSystem.java).

A run reads and writes its staged buckets through Hadoop (glue_runner.py), so moto never sees Spark's requests. With
IAM enforced, each staged bucket is mounted through `c360.IamCheckedFileSystem` (scheme `c360s3`), which asks the
emulator (`POST /_c360/iam/check`, the same evaluator as every API request) before each request S3A would make:

| Hadoop call               | S3 request(s) checked                                                  |
| ------------------------- | ---------------------------------------------------------------------- |
| open                      | s3:GetObject on the object                                             |
| getFileStatus             | a file: s3:GetObject (HEAD); a folder or a missing path: s3:ListBucket  |
|                           | with `s3:prefix` = the path + "/"                                      |
| listStatus                | s3:ListBucket with `s3:prefix` = the folder + "/"                      |
| create                    | s3:PutObject on the object                                             |
| mkdirs (a new folder)     | s3:PutObject on the folder's marker (`key/`)                           |
| delete                    | s3:DeleteObject on each object under it (a folder: s3:ListBucket too)  |
| rename                    | for each object: s3:GetObject, s3:PutObject on the target, s3:DeleteObject |

A denied request raises `java.nio.file.AccessDeniedException` with S3A's message shape, so the job fails as it would
on Glue, with the role, action and resource in the run's ErrorMessage. Only the outermost call of a thread is a
request (what the FileSystem does inside it to serve it is not). What is staged and written back is the runner's
business, as Glue's own infrastructure; the job's script, `--extra-py-files` and `--extra-jars` are fetched with the
role's credentials (glue_runner.py).

The class is compiled from c360/local/java/ on first use (javac from JAVA_HOME or PATH, against pyspark's
hadoop-client-api jar) into `<state>/glue/jars/`, keyed by its source's hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

SOURCE = Path(__file__).with_name("java") / "IamCheckedFileSystem.java"
CLASS = "c360.IamCheckedFileSystem"
SCHEME = "c360s3"
_lock = threading.Lock()


def javac() -> str:
    home = os.environ.get("JAVA_HOME")
    found = Path(home, "bin", "javac") if home and Path(home, "bin", "javac").exists() else shutil.which("javac")
    if not found:
        raise FileNotFoundError(
            "javac not found: the local Glue runner compiles its IAM-checked S3 view for Spark (c360/local/java/) "
            "and needs a JDK 17 (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; `make setup` installs it "
            "as root). Or start the emulator with C360_IAM=off.")
    return str(found)


def jar(folder: Path) -> Path:
    """The compiled jar in `folder` (built if missing)."""
    import pyspark

    source = SOURCE.read_bytes()
    target = folder / f"c360-iam-fs-{hashlib.sha256(source).hexdigest()[:16]}.jar"
    with _lock:
        if target.exists():
            return target
        api = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
        if not api:
            raise FileNotFoundError("pyspark's hadoop-client-api jar is missing: reinstall pyspark")
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([javac(), "--release", "17", "-cp", str(api[0]), "-d", tmp, str(SOURCE)],
                                 capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(f"compiling {SOURCE.name} failed:\n{out.stderr}")
            jar_tool = Path(javac()).resolve().with_name("jar")
            part = target.with_suffix(".part")
            subprocess.run([str(jar_tool), "cf", str(part), "-C", tmp, "c360"], check=True, capture_output=True)
            part.rename(target)
    return target


def spark_conf(stage: Path, endpoint: str, session: str, run_id: str) -> dict[str, str]:
    """The Hadoop settings a run needs (besides its mount table): where its buckets are staged, whom to ask, as whom;
    answers are cached for the run only (a role's policy may change between two runs of one warm driver)."""
    return {"fs.c360s3.impl": CLASS, "fs.c360s3.impl.disable.cache": "true", "c360.iam.stage": str(stage),
            "c360.iam.endpoint": endpoint, "c360.iam.session": session, "c360.iam.run": run_id}
