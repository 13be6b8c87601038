"""Benchmark: the Lambda's streaming validators (lambda/contract_validators.py) per format.

For one generated file per format of about --size-mb MB, prints validation throughput (MB/s) beside a bare parse
of the same file (lxml iterparse, the json module, the csv module) and the ratio, and the peak memory (RSS) of
validating it in a fresh process. Run: `python bench/validate_bench.py --size-mb 1000` (make bench runs the default).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BYTES_PER_RECORD = {"customer_details": 480, "purchases": 430, "feedback": 110}


def generate(out: Path, size_mb: int) -> dict[str, Path]:
    from c360.datagen import Params
    from c360.datagen import generate as gen

    n = {k: int(size_mb * 1e6 / v) for k, v in BYTES_PER_RECORD.items()}
    gen(Params(customers=n["customer_details"], purchases=n["purchases"], feedback=n["feedback"], files=1,
               bad_files=0), out, progress=True)
    return {"customer_details": out / "raw/customer_details/customers_0001.xml",
            "purchases": out / "raw/purchases/purchases_0001.json",
            "feedback": out / "raw/feedback/feedback_0001.csv"}


def bare(dataset: str, path: Path) -> float:
    t = time.perf_counter()
    if dataset == "customer_details":
        from lxml import etree

        for _, el in etree.iterparse(str(path), events=("end",), tag="customer"):
            el.clear()
    elif dataset == "purchases":
        with open(path, "rb") as f:
            json.loads(f.read())
    else:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for _ in csv.reader(f):
                pass
    return time.perf_counter() - t


VALIDATE = """
import json, sys, time
sys.path.insert(0, {lam!r})
import contract_validators as validators
t = time.perf_counter()
with open({path!r}, "rb") as f:
    r = validators.validate(f, {dataset!r}, {fmt!r}, {name!r})
took = time.perf_counter() - t
print(json.dumps({{"seconds": took, "valid": r.valid, "records": r.records,
                  "rss_mb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024}}))
"""


def validate(dataset: str, path: Path) -> dict:
    fmt = {"customer_details": "xml", "purchases": "json", "feedback": "csv"}[dataset]
    code = VALIDATE.format(lam=str(ROOT / "lambda"), path=str(path), dataset=dataset, fmt=fmt, name=path.name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp), args.size_mb)
        print(f"\nvalidation vs bare parse, ~{args.size_mb} MB per file (python {sys.version.split()[0]}):")
        for dataset, path in files.items():
            mb = path.stat().st_size / 1e6
            b = bare(dataset, path)
            v = validate(dataset, path)
            assert v["valid"], dataset
            print(f"  {dataset:17s} {mb:7.0f} MB {v['records']:>9,} records  validate {mb / v['seconds']:6.1f} MB/s"
                  f"  bare parse {mb / b:6.1f} MB/s  ratio {b / v['seconds']:.2f}x  peak RSS {v['rss_mb']:.0f} MB")
    print(f"  (this script's own peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          "the bare JSON parse reads the whole file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
