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

    def __init__(self, browser, url, user=None):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.outside, self.errors, self.failed = [], [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
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
