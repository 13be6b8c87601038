"""Streaming output files: buffered, encoded, hashed as they are written (constant memory)."""

from __future__ import annotations

import codecs
import csv
import hashlib
from pathlib import Path

_FLUSH_AT = 1 << 20  # characters buffered before an encode + write


class OutFile:
    """A text sink that encodes to bytes, tracks size and SHA-256, and writes in ~1 MB blocks."""

    def __init__(self, path: Path, encoding: str = "utf-8", bom: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.encoding = encoding
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._sha = hashlib.sha256()
        self.size = 0
        self._buf: list[str] = []
        self._buflen = 0
        if encoding.lower() in ("utf-16", "utf16"):
            # Python's utf-16 codec would repeat the BOM on every block: write one, then little-endian.
            self.encoding = "utf-16-le"
            self._emit(codecs.BOM_UTF16_LE)
        elif bom:
            self._emit(codecs.BOM_UTF8)

    def write(self, text: str) -> None:
        self._buf.append(text)
        self._buflen += len(text)
        if self._buflen >= _FLUSH_AT:
            self.flush()

    def _emit(self, data: bytes) -> None:
        self._f.write(data)
        self._sha.update(data)
        self.size += len(data)

    def flush(self) -> None:
        if self._buf:
            # Characters the declared encoding cannot hold become XML character references; only XML
            # files use a non-UTF encoding, so this never touches JSON or CSV.
            self._emit("".join(self._buf).encode(self.encoding, errors="xmlcharrefreplace"))
            self._buf.clear()
            self._buflen = 0

    def close(self) -> dict:
        self.flush()
        self._f.close()
        return {"bytes": self.size, "sha256": self._sha.hexdigest()}


def write_bytes(path: Path, data: bytes) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


class CsvSink:
    """csv.writer over an OutFile (RFC 4180 quoting, chosen line ending)."""

    def __init__(self, out: OutFile, lineterminator: str):
        self.out = out
        self.writer = csv.writer(out, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)

    def row(self, values) -> None:
        self.writer.writerow(values)


class JsonRecordsSink:
    """Records as one JSON array (.json) or JSON Lines (.jsonl / .ndjson), written one at a time."""

    def __init__(self, out: OutFile, style: str, newline: str = "\n", blank_line_every: int = 0):
        self.out, self.style, self.newline = out, style, newline
        self.blank_line_every = blank_line_every  # JSON Lines may contain blank lines: exercise that
        self.count = 0

    def put(self, text: str) -> None:
        if self.style == "json":
            self.out.write(("[\n" if self.count == 0 else ",\n") + text)
        else:
            self.out.write(text + self.newline)
            if self.blank_line_every and self.count % self.blank_line_every == self.blank_line_every - 1:
                self.out.write(self.newline)
        self.count += 1

    def finish(self) -> None:
        if self.style == "json":
            self.out.write("[\n]\n" if self.count == 0 else "\n]\n")
        elif self.count == 0:
            self.out.write(self.newline)  # no records: a blank line, since a zero-byte file is invalid
