"""Driving Debian's headless Chromium (Playwright) in the browser tests: launching it, and a
signed-in visit that blocks every request leaving 127.0.0.1."""
from __future__ import annotations

from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


class Visit:
    """Open a page as a signed-in user: the protected page answers with the sign-in form,
    which is filled in like a person would."""

    def _request_failed(self, request) -> None:
        # Leaflet cancels the tiles of a view it has left (a fitBounds, a layer swapped):
        # an aborted tile is the map working, any other failure is not
        if "/tiles/" in request.url and "ERR_ABORTED" in (request.failure or ""):
            return
        self.failed.append(f"{request.url} {request.failure}")

    def __init__(self, browser, url, user=None, **context):
        context.setdefault("viewport", {"width": 1400, "height": 900})
        self.context = browser.new_context(**context)
        self.outside, self.errors, self.failed = [], [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", self._request_failed)
        self.response = self.page.goto(url, wait_until="networkidle")
        if user is not None:
            assert self.response.status == 401
            self.page.fill("input[name=username]", user["username"])
            self.page.fill("input[name=password]", user["password"])
            with self.page.expect_navigation(wait_until="networkidle") as nav:
                self.page.click("button[type=submit]")
            self.response = nav.value
            self.errors.clear()  # the 401 of the first answer is logged by the browser

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("internetdisconnected")

    def check_clean(self):
        assert self.response.status == 200
        assert self.outside == [], f"requests to the internet: {self.outside[:5]}"
        assert self.errors == [], f"console errors: {self.errors[:5]}"
        assert self.failed == [], f"failed requests: {self.failed[:5]}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.context.close()


def wait_loaded(page, previous: str | None = None, timeout_ms: int = 30_000) -> str:
    """Wait until a report page (web/static/reports.js) has drawn an answer after `previous`
    (the value of body[data-loaded] before a change); returns the new value."""
    page.wait_for_function(
        "prev => document.body.dataset.loaded && document.body.dataset.loaded !== prev",
        arg=previous, timeout=timeout_ms)
    page.wait_for_load_state("networkidle")
    return page.evaluate("document.body.dataset.loaded")


PAINTED_JS = """sel => {
    let n = 0;
    for (const c of document.querySelectorAll(sel)) {
        if (!c.width || !c.height) continue;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++;
    }
    return n; }"""


def painted(page, selector: str = ".leaflet-tile-container canvas") -> int:
    """About how many pixels the canvases under `selector` have painted (every 4th pixel)."""
    return page.evaluate(PAINTED_JS, selector)


def hover_until(page, selector: str, needle: str | None = None, steps: int = 12) -> str:
    """Move the mouse over the map on a spiral from its centre until `selector` shows (with
    `needle` in its text); returns that text ('' when it never showed)."""
    import math
    box = page.locator(".leaflet-container").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for i in range(steps * 4):
        r = 6 * i
        a = i * 0.9
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a), steps=3)
        page.wait_for_timeout(60)
        found = page.locator(selector)
        if found.count():
            text = found.first.inner_text()
            if needle is None or needle in text:
                return text
    return ""


def sweep_tooltips(page, columns: int = 12, rows: int = 8) -> list[str]:
    """Move the mouse over a lattice of points of the map and collect the tooltip texts."""
    if not page.locator(".leaflet-container").count():
        return []
    box = page.locator(".leaflet-container").first.bounding_box()
    texts = []
    for j in range(rows):
        for i in range(columns):
            page.mouse.move(box["x"] + box["width"] * (i + 0.5) / columns,
                            box["y"] + box["height"] * (j + 0.5) / rows)
            page.wait_for_timeout(15)
            texts += page.locator(".leaflet-tooltip").all_text_contents()
    return texts
