"""Checking and re-encoding pictures, without a server: odd pixel formats, and damaged files."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from quiz_actors.images import MAX_SIDE, ImageRefused, StoredImage, prepare_image


def encoded(picture: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def stored(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(prepare_image(data).data))


def test_sixteen_bit_grey_keeps_its_shade():
    picture = stored(encoded(Image.new("I;16", (20, 20), 40000), "PNG"))
    assert picture.mode == "L" and picture.getpixel((0, 0)) == 40000 // 256


@pytest.mark.parametrize(
    "source",
    [
        encoded(Image.new("L", (20, 20), 7), "PNG", transparency=7),
        encoded(Image.new("RGB", (20, 20), (1, 2, 3)), "PNG", transparency=(1, 2, 3)),
        encoded(Image.new("P", (20, 20), 0), "GIF", transparency=0),
        encoded(Image.new("LA", (20, 20), (100, 0)), "PNG"),
    ],
    ids=["grey-with-a-transparent-shade", "rgb-with-a-transparent-colour", "gif-palette", "grey-alpha"],
)
def test_transparency_survives_the_metadata_going(source):
    picture = stored(source)
    assert picture.mode == "RGBA" and picture.getpixel((0, 0))[3] == 0


def test_a_cmyk_jpeg_becomes_an_rgb_jpeg():
    image = prepare_image(encoded(Image.new("CMYK", (20, 20), (0, 0, 0, 0)), "JPEG"))
    assert image.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(image.data)).mode == "RGB"


def test_a_tall_picture_is_made_at_most_1920_high():
    image = prepare_image(encoded(Image.new("RGB", (500, 4000), (9, 9, 9)), "PNG"))
    assert (image.width, image.height) == (240, MAX_SIDE)


SOURCES = [
    encoded(Image.new("RGB", (40, 30), (200, 10, 10)), "PNG"),
    encoded(Image.new("RGB", (40, 30), (200, 10, 10)), "JPEG"),
    encoded(Image.new("RGBA", (40, 30), (200, 10, 10, 90)), "WEBP"),
    encoded(Image.new("P", (40, 30), 5), "GIF"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SOURCES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 10_000),
)
def test_damaged_pictures_are_refused_or_stored_never_anything_else(source, flips, cut):
    data = bytearray(source)
    for at, value in flips:
        data[at % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut % len(data))])
    try:
        image = prepare_image(data)
    except ImageRefused as refused:
        assert refused.message
        return
    assert isinstance(image, StoredImage)
    again = Image.open(io.BytesIO(image.data))
    again.load()
    assert again.size == (image.width, image.height) and not again.getexif()
