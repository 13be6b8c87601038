"""`make lambda-zip`: build build/lambda.zip and report its size and the handler's import time."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zipfile

from c360.config import project_root
from c360.provision import lambda_zip

root = project_root()
t = time.perf_counter()
dest = lambda_zip(root, root / "build" / "lambda.zip")
built = time.perf_counter() - t
with zipfile.ZipFile(dest) as z:
    names = z.namelist()
    unpacked = sum(i.file_size for i in z.infolist())
print(f"{dest.relative_to(root)}: {dest.stat().st_size / 1e6:.2f} MB zipped, {unpacked / 1e6:.1f} MB unpacked, "
      f"{len(names)} files, built in {built:.1f} s")
print("  vendored: " + ", ".join(sorted({n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")})))
# Import time of the handler as the local emulator runs it: the zip's folder last on the path, so the installed
# packages (this machine's Python) load; on AWS the vendored 3.12 wheels load instead.
with tempfile.TemporaryDirectory() as tmp:
    with zipfile.ZipFile(dest) as z:
        z.extractall(tmp)
    code = (f"import sys, time; sys.path.append({tmp!r}); t = time.perf_counter(); import handler; "
            "print(f'{(time.perf_counter() - t) * 1000:.0f}')")
    runs = [int(subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True,
                               cwd=tmp).stdout) for _ in range(3)]
print(f"  handler import time (cold process, local Python {sys.version.split()[0]}): "
      f"{min(runs)}-{max(runs)} ms over 3 runs")
