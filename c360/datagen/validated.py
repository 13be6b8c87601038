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
