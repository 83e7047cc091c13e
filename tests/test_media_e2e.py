"""Pictures for questions (issue 15): upload, serve, refuse, back up; over real HTTP,
on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import aiohttp
import pytest
from PIL import Image

from quiz_actors.domain.media import MediaItem
from quiz_actors.server.keys import SYSTEM
from quiz_actors.tools.audit_model import audit_columns
from tests import pictures
from tests.conftest import RunningServer
from tests.test_backup_e2e import quiz_admin, second_store  # noqa: F401 - second_store: a fixture

MB = 1024 * 1024


def stored_events(server) -> int:
    return server.app[SYSTEM].store.max_notification_id()


async def upload(http, server, data: bytes, **kwargs) -> tuple[int, dict]:
    async with http.post(server.base_url + "/api/media", data=data, **kwargs) as response:
        return response.status, await response.json()


async def upload_form(http, server, data: bytes, filename: str, content_type: str) -> tuple[int, dict]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    async with http.post(server.base_url + "/api/media", data=form) as response:
        return response.status, await response.json()


async def fetch(http, server, media_id: str) -> tuple[int, bytes, dict]:
    async with http.get(f"{server.base_url}/media/{media_id}") as response:
        return response.status, await response.read(), dict(response.headers)


async def test_a_picture_is_stored_once_and_served_for_a_year(server, http):
    status, body = await upload(http, server, pictures.png(64, 48), headers={"Content-Type": "image/png"})
    assert status == 201, body
    assert body["content_type"] == "image/png" and (body["width"], body["height"]) == (64, 48)
    assert body["url"] == f"/media/{body['media_id']}"
    status, data, headers = await fetch(http, server, body["media_id"])
    assert status == 200
    assert hashlib.sha256(data).hexdigest() == body["media_id"] and len(data) == body["bytes"]
    assert headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    # The same picture again, and the stored bytes themselves: nothing new is stored.
    before = stored_events(server)
    assert (await upload(http, server, pictures.png(64, 48)))[1]["media_id"] == body["media_id"]
    assert (await upload(http, server, data))[1]["media_id"] == body["media_id"]
    assert stored_events(server) == before
    # After a restart it comes from the store, not from memory.
    await server.restart()
    status, again, _ = await fetch(http, server, body["media_id"])
    assert status == 200 and again == data


async def test_a_form_upload_and_a_revalidation(server, http):
    status, body = await upload_form(http, server, pictures.png(10, 10), "dot.png", "image/png")
    assert status == 201, body
    async with http.get(
        f"{server.base_url}/media/{body['media_id']}", headers={"If-None-Match": f'"{body["media_id"]}"'}
    ) as response:
        assert response.status == 304


async def test_a_big_photo_is_made_smaller_and_loses_its_gps_position(server, http):
    photo = pictures.jpeg_with_gps(4000, 3000)
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(pictures.GPS_IFD)  # the test's own premise
    status, body = await upload(http, server, photo, headers={"Content-Type": "image/jpeg"})
    assert status == 201, body
    assert body["content_type"] == "image/jpeg" and (body["width"], body["height"]) == (1920, 1440)
    _, data, _ = await fetch(http, server, body["media_id"])
    stored = Image.open(io.BytesIO(data))
    assert stored.size == (1920, 1440)
    assert not stored.getexif() and "exif" not in stored.info
    assert b"PhoneMaker" not in data and b"Exif" not in data


async def test_a_phone_photo_is_turned_upright(server, http):
    # Orientation 6: the camera was held on its side; the picture is shown turned 90° clockwise.
    status, body = await upload(http, server, pictures.jpeg_with_gps(200, 100, orientation=6))
    assert status == 201 and (body["width"], body["height"]) == (100, 200)
    _, data, _ = await fetch(http, server, body["media_id"])
    upright = Image.open(io.BytesIO(data)).convert("RGB")
    top, bottom = upright.getpixel((50, 10)), upright.getpixel((50, 190))
    assert top[0] > 180 and top[2] < 100  # the red half is now on top
    assert bottom[2] > 180


async def test_an_animated_gif_is_stored_as_its_first_frame(server, http):
    status, body = await upload(http, server, pictures.animated_gif(3))
    assert status == 201, body
    assert body["content_type"] == "image/png"
    _, data, _ = await fetch(http, server, body["media_id"])
    still = Image.open(io.BytesIO(data))
    assert getattr(still, "n_frames", 1) == 1
    assert still.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


async def test_a_photo_as_png_is_stored_as_webp(server, http):
    status, body = await upload(http, server, pictures.noisy_png(1400, 1100))
    assert status == 201, body
    assert body["content_type"] == "image/webp" and body["bytes"] < 4 * MB
    _, data, headers = await fetch(http, server, body["media_id"])
    assert headers["Content-Type"] == "image/webp" and Image.open(io.BytesIO(data)).format == "WEBP"


@pytest.mark.parametrize(
    ("make", "filename", "content_type", "words"),
    [
        (lambda: pictures.HTML_AS_PNG, "cat.png", "image/png", "not a picture the server takes"),
        (lambda: pictures.SVG_WITH_SCRIPT, "logo.svg", "image/svg+xml", "not a picture the server takes"),
        (pictures.truncated_png, "half.png", "image/png", "damaged or incomplete"),
        (lambda: pictures.png_declaring(8000, 8000), "bomb.png", "image/png", "8000 × 8000 pixels"),
        (lambda: pictures.png_declaring(100_000, 100_000), "bomb.png", "image/png", "more than 50,000,000"),
        (lambda: b"", "empty.png", "image/png", "empty"),
    ],
    ids=["html-named-png", "svg-with-script", "truncated", "bomb", "huge-bomb", "empty"],
)
async def test_what_is_not_a_picture_is_refused_and_nothing_is_stored(
    server, http, make, filename, content_type, words
):
    before = stored_events(server)
    for status, body in (
        await upload_form(http, server, make(), filename, content_type),
        await upload(http, server, make(), headers={"Content-Type": content_type}),
    ):
        assert status == 400, body
        assert body["error"]["code"] == "media_invalid"
        assert words in body["error"]["message"]
    assert stored_events(server) == before


async def test_fifty_megabytes_are_refused_without_being_held(server, http):
    before = stored_events(server)
    fifty = b"\x89PNG\r\n\x1a\n" + bytes(50 * MB)
    # Said up front (Content-Length): refused before the body is read.
    status, body = await upload(http, server, fifty, headers={"Content-Type": "image/png"})
    assert status == 413 and body["error"]["code"] == "media_too_big"
    assert "at most 5 MB" in body["error"]["message"]

    # Not said (chunked): refused once 5 MB have come in.
    sent = 0

    async def stream():
        nonlocal sent
        for _ in range(50):
            sent += MB
            yield bytes(MB)

    status, body = await upload(http, server, stream(), headers={"Content-Type": "image/png"})
    assert status == 413 and body["error"]["code"] == "media_too_big"
    # And in a form.
    status, body = await upload_form(http, server, fifty, "huge.png", "image/png")
    assert status == 413
    assert stored_events(server) == before
    # The server is fine afterwards.
    assert (await upload(http, server, pictures.png()))[0] == 201


async def test_a_form_without_a_file_field_is_refused(server, http):
    form = aiohttp.FormData()
    form.add_field("picture", pictures.png(), filename="a.png", content_type="image/png")
    async with http.post(server.base_url + "/api/media", data=form) as response:
        assert response.status == 400
        assert 'named "file"' in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data", b"no boundary was declared"),
        # A part header aiohttp cannot parse (a control character in the field's name).
        (
            "multipart/form-data; boundary=944a",
            b'--944a\r\nContent-Disposition: form-data; name="C\xc3\xa3r\x18"\r\n\r\n-7.8\r\n--944a--\r\n',
        ),
    ],
    ids=["no-boundary", "broken-part-header"],
)
@pytest.mark.parametrize("path", ["/api/media", "/api/quizzes/import"])
async def test_a_body_that_is_not_a_readable_form_is_refused_plainly(server, http, path, content_type, body):
    # Found by the OpenAPI contract test (schemathesis): both were a 500.
    before = stored_events(server)
    async with http.post(
        server.base_url + path, data=body, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert "not a readable multipart form" in error["message"]
    assert stored_events(server) == before


async def test_unknown_media_is_404(server, http):
    for media_id in ("0" * 64, "not-an-id", "A" * 64):
        status, _, headers = await fetch(http, server, media_id)
        assert status == 404 and headers["X-Content-Type-Options"] == "nosniff"


async def test_the_admin_key_guards_uploads_not_pictures(settings, clock, http):
    server = await RunningServer(replace(settings, admin_key="s3cret"), clock).start()
    try:
        status, body = await upload(http, server, pictures.png())
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, body = await upload(http, server, pictures.png(), headers={"Authorization": "Bearer wrong"})
        assert status == 401
        status, body = await upload(http, server, pictures.png(), headers={"Authorization": "Bearer s3cret"})
        assert status == 201
        assert (await fetch(http, server, body["media_id"]))[0] == 200
    finally:
        await server.stop()


@pytest.fixture
def restore_target(second_store):  # noqa: F811 - the fixture imported above
    return second_store


async def test_a_backup_of_the_store_carries_the_pictures(
    server, http, store_url, restore_target, settings, clock, tmp_path
):
    _, body = await upload(http, server, pictures.jpeg_with_gps(300, 200))
    _, original, _ = await fetch(http, server, body["media_id"])
    await server.stop()
    backup_file = tmp_path / "b.jsonl.gz"
    status, _, err = await quiz_admin("backup", "--store", store_url, str(backup_file))
    assert status == 0, err
    status, _, err = await quiz_admin("restore", "--store", restore_target, str(backup_file))
    assert status == 0, err
    restored = await RunningServer(replace(settings, store=restore_target), clock).start()
    try:
        status, data, headers = await fetch(http, restored, body["media_id"])
        assert status == 200 and data == original and headers["Content-Type"] == "image/jpeg"
    finally:
        await restored.stop()


def test_the_audit_log_records_a_picture_without_its_bytes():
    item = MediaItem(media_id="a" * 64, content_type="image/png", width=1, height=1, data_base64="QUJD")
    (stored,) = item.collect_events()
    columns = audit_columns(stored)
    assert columns.fields is not None
    assert columns.fields["data_base64"] == "(picture bytes, not copied)"
    assert columns.fields["content_type"] == "image/png"
