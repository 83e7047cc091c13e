"""Which address the lobby tells players to join at, and its QR code (issue 16).

``choose`` is tried for each case; then ``/api/join`` and ``/api/join/qr`` over
HTTP on a real server, the QR code read back with zxing-cpp.
"""

from __future__ import annotations

import pytest

from quiz_actors.server.join_address import choose, is_loopback, network_addresses, qr_svg
from quiz_actors.settings import Settings
from tests.conftest import RunningServer

NETWORK = ["192.0.2.2"]


def test_public_url_wins_over_everything():
    chosen = choose("https://quiz.school.example", "0.0.0.0", "http", "127.0.0.1:8080", NETWORK)
    assert chosen.url == "https://quiz.school.example/"
    assert chosen.shown == "https://quiz.school.example"
    assert chosen.source == "public_url"
    assert chosen.link("123456") == "https://quiz.school.example/?code=123456"


def test_the_address_the_page_was_opened_at_unless_it_is_loopback():
    chosen = choose("", "0.0.0.0", "http", "10.1.2.3:8080", NETWORK)
    assert (chosen.url, chosen.shown, chosen.source) == ("http://10.1.2.3:8080/", "10.1.2.3:8080", "page")
    assert chosen.reason == "the address this page was opened at"
    assert chosen.warning is None


@pytest.mark.parametrize("page_host", ["127.0.0.1:8091", "localhost:8091", "[::1]:8091"])
def test_a_loopback_page_gets_this_machines_network_address(page_host):
    chosen = choose("", "0.0.0.0", "http", page_host, NETWORK)
    assert chosen.url == "http://192.0.2.2:8091/"
    assert chosen.source == "network"
    assert "not reachable from phones" in chosen.reason
    assert chosen.warning is None


def test_a_server_listening_on_loopback_only_is_told_to_listen_wider():
    chosen = choose("", "127.0.0.1", "http", "localhost:8080", NETWORK)
    assert chosen.url == "http://192.0.2.2:8080/"
    assert chosen.warning == (
        "The server listens only on 127.0.0.1, so phones cannot reach it: "
        "restart it with --host 0.0.0.0 (or give --public-url)."
    )


def test_behind_a_trusted_proxy_listening_on_loopback_is_no_problem():
    """A node of a cluster on loopback behind HAProxy on the same machine: phones reach
    HAProxy, not the node (a teacher's walk-through found the lobby telling them to
    restart the server with --host 0.0.0.0)."""
    chosen = choose("", "127.0.0.1", "http", "quiz.school.example:8080", NETWORK, behind_proxy=True)
    assert (chosen.url, chosen.warning, chosen.warning_code) == (
        "http://quiz.school.example:8080/",
        None,
        None,
    )
    not_proxied = choose("", "127.0.0.1", "http", "quiz.school.example:8080", NETWORK)
    assert not_proxied.warning_code == "loopback_only"


async def test_the_join_api_behind_a_trusted_proxy_gives_no_loopback_warning(tmp_path, http):
    settings = Settings(
        store=f"sqlite:///{tmp_path}/e.sqlite3", host="127.0.0.1", trusted_proxies="127.0.0.1/32"
    )
    proxied = await RunningServer(settings, None).start()
    settings = Settings(store=f"sqlite:///{tmp_path}/f.sqlite3", host="127.0.0.1")
    direct = await RunningServer(settings, None).start()
    try:
        headers = {"Host": "quiz.school.example:8080", "X-Forwarded-For": "192.0.2.50"}
        async with http.get(proxied.base_url + "/api/join", headers=headers) as response:
            through_proxy = await response.json()
        async with http.get(direct.base_url + "/api/join", headers=headers) as response:
            straight = await response.json()
        # The same address as the proxy's, without it: a page opened on the node itself.
        unproxied = {"Host": "quiz.school.example:8080"}
        async with http.get(proxied.base_url + "/api/join", headers=unproxied) as response:
            from_the_machine = await response.json()
    finally:
        await proxied.stop()
        await direct.stop()
    assert through_proxy["url"] == "http://quiz.school.example:8080/"
    assert through_proxy["warning"] is None
    assert straight["warning_code"] == "loopback_only"
    assert from_the_machine["warning_code"] == "loopback_only"


def test_no_network_address_keeps_the_page_address_and_says_so():
    chosen = choose("", "0.0.0.0", "http", "localhost:8080", [])
    assert chosen.url == "http://localhost:8080/"
    assert "no network address" in chosen.reason
    assert chosen.warning == "Connect it to the network the phones are on, or give --public-url."


def test_this_machines_network_addresses_are_never_loopback():
    assert all(not is_loopback(a) for a in network_addresses())


def test_a_public_url_that_cannot_be_a_join_address_is_refused_at_start():
    assert Settings(public_url="quiz.example").problems() == [
        "--public-url (QUIZ_PUBLIC_URL): 'quiz.example' is not an http:// or https:// address "
        "like http://quiz.school.example/"
    ]
    assert Settings(public_url="http://quiz.example/?x=1").problems() == [
        "--public-url (QUIZ_PUBLIC_URL): 'http://quiz.example/?x=1' must not have a ?query or "
        "#fragment: the join link adds its own"
    ]
    assert Settings(public_url="https://quiz.example/quiz/").problems() == []


def read_qr(svg: bytes) -> str:
    """Draw the SVG's dark modules into a bitmap and read it with zxing-cpp."""
    import re

    import zxingcpp

    # segno draws one path of horizontal runs: "M x y h n" moves and runs, relative after the first.
    text = svg.decode()
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', text).group(1))
    path = re.search(r'stroke="#000" d="([^"]+)"', text).group(1)  # the dark modules
    scale = 8
    pixels = bytearray([255]) * (size * scale) ** 2
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHhVv])(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        elif command in "hH":
            end = x + float(a) if command == "h" else float(a)
            row = int(y - 0.5)  # segno's runs are stroked along each module row's middle
            for col in range(int(min(x, end)), int(max(x, end))):
                for dy in range(scale):
                    start = ((row * scale + dy) * size + col) * scale
                    pixels[start : start + scale] = bytes(scale)
            x = end
        elif command in "vV":
            y = y + float(a) if command == "v" else float(a)
    found = zxingcpp.read_barcodes(memoryview(bytes(pixels)).cast("B", (size * scale, size * scale)))
    assert found, "no QR code found"
    return str(found[0].text)


def test_the_qr_code_holds_the_link():
    assert read_qr(qr_svg("http://192.0.2.2:8080/?code=123456")) == "http://192.0.2.2:8080/?code=123456"


@pytest.fixture
async def public_server(tmp_path):
    settings = Settings(
        store=f"sqlite:///{tmp_path}/events.sqlite3", public_url="https://quiz.school.example"
    )
    running = await RunningServer(settings, None).start()
    yield running
    await running.stop()


async def test_the_join_api_with_a_public_url(public_server, http):
    async with http.get(public_server.base_url + "/api/join?code=123456") as response:
        assert response.status == 200
        info = await response.json()
    assert info["url"] == "https://quiz.school.example/"
    assert info["link"] == "https://quiz.school.example/?code=123456"
    assert info["source"] == "public_url"
    assert info["reason"] == "set on this server with --public-url"
    assert info["qr"] == "/api/join/qr?code=123456"
    async with http.get(public_server.base_url + info["qr"]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/svg+xml"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert read_qr(await response.read()) == "https://quiz.school.example/?code=123456"


async def test_a_code_that_is_not_six_digits_is_refused_in_plain_words(public_server, http):
    for bad in ("12345", "abcdef", "1234567", "12345%0A"):
        async with http.get(public_server.base_url + f"/api/join/qr?code={bad}") as response:
            assert response.status == 400
            assert (await response.json())["error"]["message"] == "A room code has 6 digits"


def test_a_server_get_ready_time_out_of_range_is_refused_at_start():
    assert Settings(get_ready_s=31).problems() == [
        "--get-ready-s (QUIZ_GET_READY_S) must be at most 30, not 31"
    ]
    assert Settings(get_ready_s=-1).problems() == [
        "--get-ready-s (QUIZ_GET_READY_S) must be 0 or more, not -1"
    ]
    assert Settings(get_ready_s=0).problems() == []
