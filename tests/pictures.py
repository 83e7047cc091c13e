"""Pictures for the media tests, made on the spot: real ones, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def png(
    width: int = 64, height: int = 48, color: tuple[int, ...] = (200, 30, 30), mode: str = "RGB"
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def noisy_png(width: int, height: int) -> bytes:
    """A picture that does not compress: its PNG is big."""
    import os

    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 200, height: int = 100, orientation: int | None = None) -> bytes:
    """A phone photo: EXIF with a GPS position (and a camera orientation, if given)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (59.0, 54.0, 46.2)
    gps[3] = "E"
    gps[4] = (10.0, 45.0, 8.1)
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    picture = Image.new("RGB", (width, height), (20, 120, 220))
    # The left half red: shows which way the picture was turned.
    picture.paste((230, 20, 20), (0, 0, width // 2, height))
    picture.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    images = [Image.new("RGB", (40, 30), colors[i % len(colors)]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A decompression bomb: a few hundred bytes whose header declares ``width`` × ``height``
    pixels, with a stream of zeros that would inflate to all of them."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))  # 8-bit grey
    row = b"\x00" * (width + 1)
    squeezer = zlib.compressobj(9)
    data = b"".join(squeezer.compress(row) for _ in range(16)) + squeezer.flush()
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


HTML_AS_PNG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n"

SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<script>alert(document.domain)</script><circle cx="50" cy="50" r="40"/></svg>\n'
)


def truncated_png() -> bytes:
    whole = noisy_png(200, 200)
    return whole[: len(whole) // 2]
