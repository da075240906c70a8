#!/usr/bin/env python3
"""Draws Renraku's PWA icons (a white speech bubble on green) as PNGs, stdlib only.

Run from anywhere: python3 service-worker/make_icons.py
Writes icon-192.png, icon-512.png (rounded, transparent corners) and icon-maskable-512.png
(full bleed, the drawing inside the maskable safe zone) next to this script.
"""

import os
import struct
import zlib

GREEN = (0x1F, 0x6F, 0x5C)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 3  # supersampling per axis, for smooth edges


def rounded_rect(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def triangle(x, y, a, b, c):
    def side(p, q):
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])

    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    neg = d1 < 0 or d2 < 0 or d3 < 0
    pos = d1 > 0 or d2 > 0 or d3 > 0
    return not (neg and pos)


def color_at(x, y, maskable):
    """RGBA at the normalized point (x, y) in [0, 1]^2."""
    if maskable:
        inside = True
        # The safe zone is a centered circle of radius 0.4: shrink the drawing into it.
        x, y = 0.5 + (x - 0.5) / 0.72, 0.5 + (y - 0.5) / 0.72
    else:
        inside = rounded_rect(x, y, 0.0, 0.0, 1.0, 1.0, 0.22)
    if not inside:
        return (0, 0, 0, 0)
    for cx in (0.35, 0.5, 0.65):
        if (x - cx) ** 2 + (y - 0.455) ** 2 <= 0.052 ** 2:
            return GREEN + (255,)
    bubble = rounded_rect(x, y, 0.18, 0.24, 0.82, 0.67, 0.13) or triangle(
        x, y, (0.30, 0.62), (0.46, 0.62), (0.27, 0.80)
    )
    return (WHITE if bubble else GREEN) + (255,)


def render(size, maskable):
    rows = []
    n = SAMPLES * SAMPLES
    for py in range(size):
        row = bytearray([0])  # filter type: none
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    c = color_at(
                        (px + (sx + 0.5) / SAMPLES) / size,
                        (py + (sy + 0.5) / SAMPLES) / size,
                        maskable,
                    )
                    acc[0] += c[0] * c[3]
                    acc[1] += c[1] * c[3]
                    acc[2] += c[2] * c[3]
                    acc[3] += c[3]
            alpha = acc[3]
            if alpha:
                row += bytes((round(acc[0] / alpha), round(acc[1] / alpha), round(acc[2] / alpha), round(alpha / n)))
            else:
                row += b"\0\0\0\0"
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(width, height, raw):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        path = os.path.join(here, name)
        with open(path, "wb") as f:
            f.write(render(size, maskable))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
