"""Reading back the QR codes drawn by segno, for tests: SVG path → modules → the text it encodes.

There is no QR decoder among the dependencies, so a symbol is "decoded" by comparing its modules with
the symbols segno makes for a candidate text at every error-correction level: equal modules mean the
same text (segno is deterministic)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import segno

_TOKEN = re.compile(r"([MmHhVv])\s*(-?\d+(?:\.\d+)?)(?:\s+(-?\d+(?:\.\d+)?))?")


def svg_path_modules(svg: str) -> frozenset[tuple[int, int]]:
    """The dark modules (column, row) of a segno SVG, shifted so the symbol's top-left is (0, 0)."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output, in a test
    path = next(el for el in root.iter() if el.tag.split("}")[-1] == "path")
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for cmd, a, b in _TOKEN.findall(path.get("d", "")):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        elif cmd == "h":
            length = int(float(a))
            dark.update((int(x) + i, int(y)) for i in range(length))
            x += length
        else:
            raise ValueError(f"unexpected path command {cmd!r}")
    min_x = min(c for c, _ in dark)
    min_y = min(r for _, r in dark)
    return frozenset((c - min_x, r - min_y) for c, r in dark)


def svg_encodes(svg: str, text: str) -> bool:
    """Whether the QR code drawn in `svg` encodes exactly `text`."""
    modules = svg_path_modules(svg)
    for error in ("l", "m", "q", "h"):
        for boost in (False, True):
            qr = segno.make(text, error=error, micro=False, boost_error=boost)
            if modules == frozenset((c, r) for r, row in enumerate(qr.matrix) for c, v in enumerate(row) if v):
                return True
    return False
