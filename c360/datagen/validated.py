"""The generator's good files as the validation Lambda leaves them in validated/: UTF-8 without a BOM.

For developing and testing the Glue job without the stack: the copy goes through the Lambda's own normaliser
(`lambda/handler.py` Utf8Stream) and encoding detection, so it is byte for byte what `validated/` would hold.
"""

from __future__ import annotations

from pathlib import Path

from c360 import shipped


def validated_copy(out: Path, manifest: dict, dest: Path | None = None) -> Path:
    """Write `<dest or out/validated>/<dataset>/<file name>` for every good file of the manifest; returns the folder."""
    handler = shipped.lambda_module("handler")
    validators = shipped.lambda_module("contract_validators")
    dest = Path(dest) if dest else Path(out) / "validated"
    for f in manifest["files"]:
        if f["role"] == "bad":
            continue
        src = Path(out) / f["path"]
        target = dest / f["dataset"] / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fh:
            head = fh.read(validators.CHUNK)
            fh.seek(0)
            xml = f["format"] == "xml"
            encoding = validators.xml_encoding(head)[0] if xml else "utf-8"
            stream = handler.Utf8Stream(fh, encoding, xml=xml)
            with open(target, "wb") as w:
                while block := stream.read(validators.CHUNK):
                    w.write(block)
    return dest


# The smallest input that exercises every dataset (one customer, one purchase in EUR, one feedback row), as the
# validation Lambda leaves it in validated/: the shipped-script test and bench/job_overhead_bench.py both use it.
TINY_FILES = (
    ("customer_details", "c.xml", '<customers><customer id="C1"><first_name>Ann</first_name><last_name>Lee'
                                  '</last_name><email>ann@example.com</email><signup_date>2024-01-02'
                                  "</signup_date></customer></customers>"),
    ("purchases", "p.jsonl", '{"purchase_id": "P1", "customer_id": "C1", "purchase_ts": '
                             '"2024-03-01T10:00:00Z", "currency": "EUR", "items": [{"sku": "S", "quantity": 2, '
                             '"unit_price": 2.5, "category": "Toys"}], "total_amount": 5.0}\n'),
    ("feedback", "f.csv", "feedback_id,customer_id,purchase_id,feedback_date,rating,channel,comment\n"
                          "F1,C1,P1,2024-03-02,5,web,Great toy\n"),
)


def write_tiny(folder: Path) -> Path:
    """TINY_FILES under folder/<dataset>/; returns folder."""
    for dataset, name, text in TINY_FILES:
        (folder / dataset).mkdir(parents=True, exist_ok=True)
        (folder / dataset / name).write_text(text)
    return folder

