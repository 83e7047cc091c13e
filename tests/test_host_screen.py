"""The host screen on a projector, in a real browser (issue 16).

A real server and headless Chromium: the lobby's join address and QR code (read
back with zxing-cpp from the pixels the page drew), the kick dialog, the
remembered mute button, the get-ready phase on the host and on a phone, the
reveal and the leaderboard as two steps, and every text's contrast computed
from the rendered colours on each host screen at 1280×720 and 1920×1080 (and
3840×2160), with screenshots of each into test-output/.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from quiz_actors.clock import SystemClock
from quiz_actors.server.join_address import is_loopback, network_addresses
from quiz_actors.settings import Settings
from tests.browser import PHONE, WAIT_MS, screenshot
from tests.conftest import RunningServer
from tests.test_browser import expect, join

PROJECTOR_SIZES = [(1280, 720), (1920, 1080), (3840, 2160)]
AA = 4.5  # WCAG AA for normal text: every text on these screens is held to it

QUIZ = {
    "title": "Projector quiz",
    "get_ready_s": 2,
    "questions": [
        {
            "text": "Which of these gases makes up most of the air we breathe at sea level?",
            "choices": ["Oxygen", "Nitrogen", "Carbon dioxide", "Argon"],
            "correct": [1],
            "time_limit_s": 90,
        },
        {"text": "Is the Sun a star?", "type": "true_false", "correct": True, "time_limit_s": 90},
    ],
}

# Every visible text node on the page, with the contrast of its rendered colour
# against what is painted under it: the layers at three points of its first line
# (document.elementsFromPoint, bottom to top, each background blended by its alpha
# and its ancestors' opacity). Disabled controls are left out (WCAG exempts them).
CONTRASTS = """() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const blend = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
    a: 1,
  });
  const opacity = (node) => {
    let o = 1;
    for (let e = node; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
    return o;
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (x, y) => {
    const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || el.closest("button:disabled, [hidden], dialog:not([open])")) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== "visible" || style.display === "none") continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (![...range.getClientRects()].some((r) => r.width > 0 && r.height > 0)) continue;
    el.scrollIntoView({ block: "center", inline: "center" });
    const r = [...range.getClientRects()].find((q) => q.width > 0 && q.height > 0);
    const fg = parse(style.color);
    let worst = Infinity;
    for (const x of [r.left + 2, r.left + r.width / 2, r.right - 2]) {
      const stack = document.elementsFromPoint(x, r.top + r.height / 2);
      const at = stack.indexOf(el);
      if (at < 0) continue;
      let under = { r: 255, g: 255, b: 255, a: 1 };
      for (const layer of stack.slice(at).reverse()) {
        const bg = parse(getComputedStyle(layer).backgroundColor);
        if (bg && bg.a > 0) under = blend({ ...bg, a: bg.a * opacity(layer) }, under);
      }
      worst = Math.min(worst, ratio(blend({ ...fg, a: fg.a * opacity(el) }, under), under));
    }
    if (worst === Infinity) continue;
    found.push({ text: text.slice(0, 40), where: el.className || el.tagName, ratio: worst });
  }
  window.scrollTo(0, 0);
  return found;
}"""

SIZES = """(selectors) => Object.fromEntries(selectors.map((s) => {
  const node = document.querySelector(s);
  return [s, node ? parseFloat(getComputedStyle(node).fontSize) : null];
}))"""

# Counts every sound the page starts (Web Audio oscillators), to see the mute button work.
COUNT_SOUNDS = """
window.oscillatorsStarted = 0;
const original = AudioScheduledSourceNode.prototype.start;
AudioScheduledSourceNode.prototype.start = function (...args) {
  window.oscillatorsStarted += 1;
  return original.apply(this, args);
};
"""


@pytest.fixture
async def live_server(tmp_path):
    # Listening on loopback, as in every test: the lobby still shows this machine's network address.
    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", progress_interval_s=0.05)
    running = await RunningServer(settings, SystemClock()).start()
    yield running
    await running.stop()


async def open_host(pages, live_server, quiz=QUIZ, width=1280, height=720):
    host = await pages.open("/host", {"viewport": {"width": width, "height": height}}, "host")
    async with _http() as http:
        async with http.post(live_server.base_url + "/api/quizzes", data=json.dumps(quiz)) as response:
            assert response.status == 201
    await host.reload()
    await host.get_by_label(re.compile(quiz["title"])).check()
    await host.fill("#host-name", "Ms Host")
    await host.click("#create-button")
    await expect(host.locator("#room-code")).to_be_visible()
    return host, await host.locator("#room-code").get_attribute("data-code")


def _http():
    import aiohttp

    return aiohttp.ClientSession()


async def check_contrast(page, label: str) -> None:
    found = await page.evaluate(CONTRASTS)
    assert len(found) >= 3, f"{label}: too few texts found to check: {found}"
    poor = [f for f in found if f["ratio"] < AA]
    assert poor == [], f"{label}: texts under {AA}:1 contrast: {poor}"


async def at_each_size(host, label: str, sizes=PROJECTOR_SIZES, contrast=True) -> None:
    for width, height in sizes:
        await host.set_viewport_size({"width": width, "height": height})
        await host.evaluate("() => document.fonts.ready")
        # Nothing sticks out sideways at any size.
        assert await host.evaluate("() => document.documentElement.scrollWidth") <= width
        if contrast:
            await check_contrast(host, f"{label} at {width}×{height}")
        await screenshot(host, f"host-{label}-{width}x{height}")
    await host.set_viewport_size({"width": 1280, "height": 720})


async def read_qr_in_page(page) -> str:
    """The QR code as the page shows it: drawn on a canvas, its pixels read with zxing-cpp."""
    import zxingcpp

    await expect(page.locator("#join-qr")).to_be_visible()
    await page.wait_for_function("() => document.querySelector('#join-qr').complete")
    side = 400
    gray = await page.evaluate(
        """(side) => {
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = side;
          const context = canvas.getContext("2d");
          context.fillStyle = "#fff";
          context.fillRect(0, 0, side, side);
          context.drawImage(document.querySelector("#join-qr"), 0, 0, side, side);
          const rgba = context.getImageData(0, 0, side, side).data;
          const gray = [];
          for (let i = 0; i < rgba.length; i += 4) gray.push(rgba[i]);
          return gray;
        }""",
        side,
    )
    found = zxingcpp.read_barcodes(memoryview(bytes(gray)).cast("B", (side, side)))
    assert found, "the lobby's QR code does not read as a QR code"
    return str(found[0].text)


# ---------------------------------------------------------------- joining


async def test_the_lobby_shows_a_network_address_and_a_qr_code_that_opens_the_join_page(pages, live_server):
    addresses = network_addresses()
    if not addresses:
        pytest.skip("this machine has no network address other than loopback")
    host, code = await open_host(pages, live_server)
    # The page was opened at 127.0.0.1, which no phone can reach: the lobby shows this
    # machine's network address instead, says why, and that the server listens on loopback only.
    shown = f"{addresses[0]}:{live_server.port}"
    await expect(host.locator("#join-url")).to_have_text(shown)
    assert not is_loopback(addresses[0])
    await expect(host.locator("#join-why")).to_contain_text("this computer's network address")
    await expect(host.locator("#join-warning")).to_contain_text("--host 0.0.0.0")
    link = await read_qr_in_page(host)
    assert link == f"http://{shown}/?code={code}"
    await screenshot(host, "host-lobby-join")

    # The link opens the player page with the code filled in and the name box focused.
    # (Opened here on loopback: tests only reach this machine through 127.0.0.1.)
    parts = urlsplit(link)
    phone = await pages.open(f"{parts.path}?{parts.query}", PHONE, "phone")
    await expect(phone.locator("#code")).to_have_value(code)
    await expect(phone.locator("#name")).to_be_focused()
    await phone.fill("#name", "Ann")
    await phone.click("#join-button")
    await expect(phone.get_by_text("You're in!")).to_be_visible()
    await expect(host.locator("#players .name")).to_have_text(["Ann"])
    await screenshot(phone, "phone-joined-from-qr-390")
    assert pages.errors == []


# ---------------------------------------------------------------- kicking, sound


async def test_kicking_asks_first_and_cancel_keeps_the_player(pages, live_server):
    host, code = await open_host(pages, live_server)
    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    await expect(host.locator("#players .name")).to_have_text(["Ann"])

    await host.get_by_role("button", name="Remove Ann").click()
    dialog = host.locator("#kick-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#kick-title")).to_have_text("Remove Ann from the game?")
    await screenshot(host, "host-kick-dialog")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(host.locator("#players .name")).to_have_text(["Ann"])
    await expect(ann.get_by_text("You're in!")).to_be_visible()

    await host.get_by_role("button", name="Remove Ann").click()
    await dialog.get_by_role("button", name="Remove Ann").click()
    await expect(ann.locator("#g-title")).to_have_text("Removed from the game")
    await expect(host.locator("#players li")).to_have_count(0)
    assert pages.errors == []


async def test_the_mute_button_is_remembered_across_a_reload(pages, live_server):
    host, _ = await open_host(pages, live_server)
    await host.add_init_script(COUNT_SOUNDS)
    await host.reload()
    await expect(host.locator("#room-code")).to_be_visible()
    sound = host.locator("#sound")
    await expect(sound).to_have_text("Sound on")
    await expect(sound).to_have_attribute("aria-pressed", "false")
    # The first click lets the page play: the lobby loop starts.
    await host.click("#player-count")
    await host.wait_for_function("() => window.oscillatorsStarted > 0", timeout=WAIT_MS)

    await sound.click()
    await expect(sound).to_have_text("Sound off")
    await expect(sound).to_have_attribute("aria-pressed", "true")
    await host.reload()
    await expect(host.locator("#room-code")).to_be_visible()
    await expect(sound).to_have_text("Sound off")
    await expect(sound).to_have_attribute("aria-pressed", "true")
    # Muted: clicks and a whole lobby loop later, not one sound has started.
    await host.click("#player-count")
    await host.wait_for_timeout(3000)
    assert await host.evaluate("() => window.oscillatorsStarted") == 0

    await sound.click()
    await expect(sound).to_have_text("Sound on")
    await host.wait_for_function("() => window.oscillatorsStarted > 0", timeout=WAIT_MS)
    assert pages.errors == []


# ---------------------------------------------------------------- a game on a projector


async def test_every_host_screen_scales_and_every_text_has_aa_contrast(pages, live_server):
    host, code = await open_host(pages, live_server)
    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    ben = await pages.open("/", {**PHONE, "viewport": {"width": 320, "height": 640}}, "ben")
    await join(ben, code, "Ben Longname-Twentyfour")
    await expect(host.locator("#players .name")).to_have_text(["Ann", "Ben Longname-Twentyfour"])
    await expect(host.locator("#join-qr")).to_be_visible()
    await at_each_size(host, "lobby")

    # Type sized for the back of a classroom: bigger with the screen.
    big = await host.evaluate(SIZES, ["#join-url", "#room-code"])
    await host.set_viewport_size({"width": 1920, "height": 1080})
    at_1080 = await host.evaluate(SIZES, ["#join-url", "#room-code"])
    await host.set_viewport_size({"width": 1280, "height": 720})
    assert at_1080["#join-url"] >= 64 and at_1080["#room-code"] >= 140
    assert at_1080["#join-url"] > big["#join-url"]

    # Get ready: the question alone on the host; on the phones, the question and shut answers.
    await host.click("#start")
    await expect(host.locator("#q-getready")).to_contain_text("Get ready: answers open in")
    await expect(ann.locator("#q-text")).to_have_text(QUIZ["questions"][0]["text"])
    await expect(ann.locator("#q-feedback")).to_contain_text("Read the question: answers open in")
    await expect(ann.locator("#q-choices button").first).to_be_disabled()
    await screenshot(host, "host-get-ready-1280x720")
    await screenshot(ann, "phone-get-ready-390")
    # Then the answers open by themselves.
    await expect(host.locator("#q-choices .choice")).to_have_count(4)
    await expect(ann.locator("#q-choices button").first).to_be_enabled()
    await expect(ann.locator("#q-feedback")).to_have_text("")
    await at_each_size(host, "question")
    await host.set_viewport_size({"width": 1920, "height": 1080})
    sizes = await host.evaluate(SIZES, ["#q-text", "#q-choices .choice", "#q-timer"])
    await host.set_viewport_size({"width": 1280, "height": 720})
    assert sizes["#q-text"] >= 48 and sizes["#q-choices .choice"] >= 36, sizes
    # The phones' answer buttons hold white text at AA too (the amber one was 2.98:1).
    await check_contrast(ann, "phone question at 390")
    await check_contrast(ben, "phone question at 320")
    await screenshot(ann, "phone-question-390")

    await ann.locator("#q-choices button", has_text="Nitrogen").click()
    await ben.locator("#q-choices button", has_text="Carbon dioxide").click()
    await expect(host.locator("#screen-reveal")).to_be_visible()
    await expect(host.locator("#r-choices .correct")).to_contain_text("Nitrogen")
    await at_each_size(host, "reveal")

    await host.click("#show-leaderboard")
    await expect(host.locator("#leaderboard li")).to_have_count(1)  # Ben scored nothing: not listed
    await expect(host.locator("#leaderboard li")).to_contain_text(["Ann"])
    await at_each_size(host, "leaderboard")

    await host.click("#next")
    await expect(ann.locator("#q-choices button").first).to_be_enabled()
    await ann.locator("#q-choices button", has_text="False").click()
    await ben.locator("#q-choices button", has_text="True").click()
    await expect(host.locator("#screen-reveal")).to_be_visible()
    await host.click("#show-leaderboard")
    # Ben got it right, at once: he comes onto the board; whether above Ann (951 points for
    # a right answer in her first second or so) or below her depends on how fast the page answered.
    await expect(host.locator("#leaderboard li")).to_have_count(2)
    rows = await host.locator("#leaderboard li").all_inner_texts()
    ben_row = next(r for r in rows if "Ben" in r)
    ann_row = next(r for r in rows if "Ann" in r)
    assert "new" in ben_row
    if "Ben" in rows[0]:
        assert "▼ 1" in ann_row  # Ann moved down one place
    else:
        assert "▼" not in ann_row and "▲" not in ann_row
    await at_each_size(host, "leaderboard-2", sizes=PROJECTOR_SIZES[:2], contrast=False)
    await host.click("#next")
    await expect(host.locator("#podium .p1")).to_be_visible()
    await at_each_size(host, "podium")
    assert pages.errors == []


async def test_a_questions_picture_shows_on_the_host_and_on_the_phones_only_when_asked(pages, live_server):
    from tests import pictures

    async with _http() as http:
        async with http.post(live_server.base_url + "/api/media", data=pictures.png(320, 200)) as response:
            assert response.status == 201
            media_id = (await response.json())["media_id"]
    quiz = {
        "title": "Pictures quiz",
        "get_ready_s": 0,
        "questions": [
            {"text": "What colour is this?", "choices": ["Red", "Blue"], "correct": [0], "time_limit_s": 60,
             "image": media_id, "image_on_phones": True},
            {"text": "And this one?", "choices": ["Red", "Blue"], "correct": [0], "time_limit_s": 60,
             "image": media_id},
        ],
    }  # fmt: skip
    host, code = await open_host(pages, live_server, quiz)
    ann = await pages.open("/", PHONE, "ann")
    await join(ann, code, "Ann")
    await host.click("#start")
    for page in (host, ann):
        picture = page.locator("#q-image")
        await expect(picture).to_be_visible()
        await expect(picture).to_have_attribute("src", f"/media/{media_id}")
        # Loaded from the server, at the size it was stored.
        await page.wait_for_function("() => document.querySelector('#q-image').complete")
        assert await picture.evaluate("(img) => img.naturalWidth") == 320
    await screenshot(host, "host-question-picture-1280x720")
    await screenshot(ann, "phone-question-picture-390")

    await ann.locator("#q-choices button", has_text="Red").click()
    await expect(host.locator("#screen-reveal")).to_be_visible()
    await host.click("#show-leaderboard")
    await host.click("#next")
    await expect(host.locator("#q-text")).to_have_text("And this one?")
    await expect(host.locator("#q-image")).to_be_visible()
    # Not for the phones this time: the first question's picture does not linger either.
    await expect(ann.locator("#q-text")).to_have_text("And this one?")
    await expect(ann.locator("#q-image")).to_be_hidden()
    assert pages.errors == []
