"""Benchmark: `c360 generate` at full size (1M customers, 5M purchases, 1M feedback rows).

Prints wall time, records/s, MB/s and peak memory (RSS of the generating process), beside two yardsticks:
the same run at a tenth of the size (flat memory means the same peak) and a plain write of the same
number of bytes (the disk's floor). Run: `make bench` or `python bench/generate_bench.py [--scale 0.1]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_generate(out: Path, customers: int, purchases: int, feedback: int, files: int) -> dict:
    code = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from c360.datagen import Params, generate\n"
        "t = time.perf_counter()\n"
        f"m = generate(Params(customers={customers}, purchases={purchases}, feedback={feedback}, files={files}),"
        f" Path({str(out)!r}), progress=True)\n"
        "took = time.perf_counter() - t\n"
        "hwm = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024\n"
        "print(json.dumps({'seconds': took, 'peak_rss_mb': hwm,"
        " 'bytes': sum(f['bytes'] for f in m['files']),"
        " 'records': sum(d['records'] for d in m['datasets'].values())}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plain_write(path: Path, nbytes: int) -> float:
    block = os.urandom(1 << 20)
    t = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(nbytes // len(block) + 1):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (1M/5M/1M)")
    ap.add_argument("--keep", help="write into this folder instead of a temporary one")
    args = ap.parse_args()
    full = dict(customers=int(1_000_000 * args.scale), purchases=int(5_000_000 * args.scale),
                feedback=int(1_000_000 * args.scale), files=10)
    tenth = {k: (v // 10 if k != "files" else v) for k, v in full.items()}
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        small = run_generate(Path(tmp) / "tenth", **tenth)
        big = run_generate(Path(tmp) / "full", **full)
        floor = plain_write(Path(tmp) / "plain.bin", big["bytes"])
    mb = big["bytes"] / 1e6
    print(f"c360 generate, {full['customers']:,} customers / {full['purchases']:,} purchases / "
          f"{full['feedback']:,} feedback rows ({big['records']:,} records, {mb:,.0f} MB):")
    print(f"  wall time         {big['seconds']:8.1f} s   ({big['records'] / big['seconds']:,.0f} records/s, "
          f"{mb / big['seconds']:.1f} MB/s)")
    print(f"  peak memory       {big['peak_rss_mb']:8.1f} MB  (at a tenth of the size: {small['peak_rss_mb']:.1f} MB)")
    print(f"  yardstick         {floor:8.1f} s   plain write of the same bytes ({mb / floor:.0f} MB/s)")
    print(f"  self-usage        {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB in this script")
    return 0


if __name__ == "__main__":
    sys.exit(main())
