"""Trim the empty page background below a headless-Chromium screenshot.

Chromium's ``--screenshot`` captures the whole window, so scripts/screenshot.sh
shoots a tall window and this cuts the rows at the bottom that merely repeat the
page background (keeping a small margin). Standard library only: PNG is
zlib-compressed rows, each with a one-byte filter (PNG spec, section 9).

    python scripts/png_trim.py docs/digest.png [--margin 24]
"""

from __future__ import annotations

import argparse
import struct
import zlib
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4, 0: 1, 4: 2}  # colour type -> samples per pixel (8-bit only)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], len(SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def trim(path: Path, margin: int = 24) -> tuple[int, int]:
    """Cut the bottom rows that repeat the row above, in place; (old, new) height.

    No pixel decoding is needed: a row identical to the one above is stored with
    the "Up" filter as all zeros (what Chromium's encoder picks for it), and a
    PNG cut after any row is still valid, because a row's filter only looks up.
    """
    data = path.read_bytes()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path} is not a PNG")
    chunks = _chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or interlace or colour not in CHANNELS:
        return height, height  # not a shape we handle: leave it alone
    stride = width * CHANNELS[colour] + 1
    raw = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    zeros = bytes(stride - 1)
    last = height - 1
    while last > 0 and raw[last * stride] == 2 and raw[last * stride + 1 : (last + 1) * stride] \
            == zeros:
        last -= 1
    new_height = min(height, last + 1 + margin)
    if new_height == height:
        return height, height
    body = zlib.compress(raw[: new_height * stride], 9)
    header = struct.pack(">IIBBBBB", width, new_height, depth, colour, 0, 0, 0)
    path.write_bytes(SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", body)
                     + _chunk(b"IEND", b""))
    return height, new_height


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", type=Path, nargs="+")
    parser.add_argument("--margin", type=int, default=24)
    args = parser.parse_args()
    for png in args.png:
        before, after = trim(png, args.margin)
        print(f"{png}: {before} -> {after} px tall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
