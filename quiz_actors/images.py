"""Checking an uploaded picture and re-encoding it into what the server stores.

Everything a stranger's bytes could do to us is decided here, before anything
is stored: the content (never the file name) must be a PNG, JPEG, WebP or GIF
that Pillow decodes completely; its declared size is checked against a pixel
limit before a single pixel is decoded (a decompression bomb declares a huge
size in a few bytes); and what is stored is a fresh encoding of the pixels
alone, at most MAX_SIDE on the long side, so no metadata (EXIF with a phone's
GPS position, comments, colour profiles) survives and no crafted chunk reaches
a browser.

Animated images (GIF, animated WebP or PNG) are stored as their first frame, a
still picture: a looping animation next to a question distracts on a
projector, and re-encoding animations is where imaging libraries keep having
their bugs.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # as uploaded
MAX_PIXELS = 50_000_000  # declared width × height; a 48-megapixel phone photo still fits
MAX_SIDE = 1920  # the long side of what is stored
MAX_STORED_BYTES = 4 * 1024 * 1024  # a lossless encoding larger than this is stored as WebP instead
JPEG_QUALITY = 85
WEBP_QUALITY = 85

# Decoding takes up to 4 bytes per declared pixel (200 MB at MAX_PIXELS): two at a time at most,
# whatever the number of request threads.
DECODING = threading.BoundedSemaphore(2)

# Pillow's names of the formats taken, and the only ones it is allowed to try.
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


class ImageRefused(ValueError):
    """Bytes that are not a picture the server takes; the message says why in plain words."""

    def __init__(self, message: str, *, too_big: bool = False):
        super().__init__(message)
        self.message = message
        self.too_big = too_big


@dataclass(frozen=True)
class StoredImage:
    """A picture as the server keeps it: freshly encoded, metadata-free."""

    data: bytes
    content_type: str
    width: int
    height: int


def prepare_image(data: bytes) -> StoredImage:
    """The picture in ``data`` checked and re-encoded, or raise ``ImageRefused``."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRefused(too_big_message(), too_big=True)
    if not data:
        raise ImageRefused("The upload is empty: send the picture's bytes")
    try:
        # formats=: Pillow opens only these, whatever the bytes claim to be.
        with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as opened:
            source_format = str(opened.format)
            width, height = opened.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise ImageRefused(
                    f"The picture declares {width} × {height} pixels; at most {MAX_PIXELS:,} pixels "
                    "are taken. Make it smaller and upload it again"
                )
            opened.seek(0)  # the first frame of an animation
            with DECODING:
                if source_format == "JPEG":
                    # libjpeg decodes at 1/2, 1/4 or 1/8 scale when that is still big enough:
                    # a 12-megapixel photo costs a quarter of the time and memory.
                    opened.draft(opened.mode, _fitted(width, height))
                opened.load()  # decodes completely: a truncated file fails here
                picture = _plain_pixels(_upright(opened))
                picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                return _encode(picture, source_format)
    except ImageRefused:
        raise
    except UnidentifiedImageError:
        raise ImageRefused(
            "This is not a picture the server takes: upload a PNG, JPEG, WebP or GIF image "
            "(the content is checked, not the file name)"
        ) from None
    except Image.DecompressionBombError:
        raise ImageRefused(f"The picture declares more than {MAX_PIXELS:,} pixels; make it smaller") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        raise ImageRefused(
            f"The picture is damaged or incomplete and cannot be read ({_reason(e)})"
        ) from None


def _fitted(width: int, height: int) -> tuple[int, int]:
    """The size the picture is stored at: at most MAX_SIDE on its long side."""
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def too_big_message() -> str:
    return f"A picture is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB as uploaded; make it smaller"


def _upright(opened: Image.Image) -> Image.Image:
    """The pixels turned the way the camera's EXIF orientation says, as a new image."""
    turned = ImageOps.exif_transpose(opened)
    return turned if turned is not None else opened.copy()


def _plain_pixels(picture: Image.Image) -> Image.Image:
    """Only the pixels, in RGB, RGBA or L: nothing from the source's ``info`` goes on.

    Palette images with a transparent colour become RGBA, so clearing ``info``
    (where Pillow keeps that colour) cannot turn transparency black.
    """
    if picture.mode.startswith("I"):
        # 16- or 32-bit grey: scaled down to 8 bits (a plain conversion would clip it to white).
        picture = picture.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if picture.mode in ("P", "PA", "LA") or (picture.mode in ("L", "RGB") and "transparency" in picture.info):
        has_alpha = "transparency" in picture.info or picture.mode in ("PA", "LA")
        picture = picture.convert("RGBA" if has_alpha else "RGB")
    elif picture.mode not in ("RGB", "RGBA", "L"):
        picture = picture.convert("RGB")  # CMYK, 16-bit, 1-bit, YCbCr
    clean = picture.copy()
    clean.info = {}  # EXIF, XMP, ICC profile, comments, GPS: none of it is written out again
    return clean


def _encode(picture: Image.Image, source_format: str) -> StoredImage:
    """JPEG stays JPEG and WebP stays WebP; PNG and GIF become PNG (lossless), unless that is huge."""
    if source_format == "JPEG":
        data = _save(picture.convert("RGB") if picture.mode == "RGBA" else picture, "JPEG")
        kind = "JPEG"
    elif source_format == "WEBP":
        data, kind = _save(picture, "WEBP"), "WEBP"
    else:
        data, kind = _save(picture, "PNG"), "PNG"
        if len(data) > MAX_STORED_BYTES:  # a photo saved as PNG: lossy WebP is a tenth of it
            data, kind = _save(picture, "WEBP"), "WEBP"
    return StoredImage(
        data=data, content_type=CONTENT_TYPES[kind], width=picture.width, height=picture.height
    )


def _save(picture: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        picture.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif kind == "WEBP":
        picture.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        picture.save(out, "PNG")  # zlib's default level: "optimize" costs seconds on a large picture
    return out.getvalue()


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text[:200]
