"""Shared helpers for the exercise tests: exercise files and pictures written into a temp
directory, and a clinic's overrides file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

LEVEL = """
[[levels]]
level = {n}
name = "Level {n}"
dose = {dose}
instructions = "Do the thing slowly."
what_to_feel = "Mild effort."
stop_if = "Pain spreads down a leg."
"""


def make_toml(ex_id: str = "demo", *, levels: int = 3, numbers: list[int] | None = None,
              dose: str = "{ sets = 2, reps = 10 }", video_url: str = "",
              drop: str | None = None, extra: str = "") -> str:
    head = {
        "id": f'id = "{ex_id}"', "title": 'title = "Demo"', "category": 'category = "mobility"',
        "summary": 'summary = "A demo exercise."', "video_url": f'video_url = "{video_url}"',
    }
    lines = [v for k, v in head.items() if k != drop] + [extra]
    text = "\n".join(lines) + "\n"
    for n in numbers or list(range(1, levels + 1)):
        text += LEVEL.format(n=n, dose=dose)
    if drop and drop not in head:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(drop + " "))
    return text


def write(tmp_path: Path, text: str, ex_id: str = "demo") -> Path:
    (tmp_path / f"{ex_id}.toml").write_text(text, encoding="utf-8")
    return tmp_path


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real (white) PNG image, so a browser can show it too."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


SVG = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
       'viewBox="0 0 10 10">{body}</svg>')
"""An SVG document around `body` (format it with body=...)."""


def svg(body: str = '<path d="M1 1H9" fill="none" stroke="#000"/>') -> bytes:
    return SVG.format(body=body).encode()


def write_overrides(directory: Path, text: str) -> Path:
    path = directory / "clinic-exercises.toml"
    path.write_text(text, encoding="utf-8")
    return path
