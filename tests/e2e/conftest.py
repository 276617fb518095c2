"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a
real SMTP server for the confirmation email."""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API keeps an event loop in the test's thread; the
    ORM calls the tests make between browser steps are still plain
    synchronous calls. Only for these tests, never for subprocesses."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(live_server):
    """Started after (so stopped before) the live server and the database
    of the test: Playwright's event loop must be gone when the database is
    flushed."""
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


class Steps:
    """Screenshots of each step, and axe checks of each page.

    axe-core runs as JavaScript in the page, which a context with JavaScript
    disabled refuses (the call hangs). For such a page pass ``auditor``, a
    page of a JavaScript-enabled context: each step's HTML, as the browser
    without JavaScript holds it, is copied there without its scripts and
    checked, so the no-JS pass is checked on exactly what it shows.
    """

    def __init__(self, page, name, check_accessibility=True, auditor=None):
        self.page = page
        self.auditor = auditor
        self.folder = ARTIFACTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.check_accessibility = check_accessibility
        self.violations = {}
        if check_accessibility:
            from axe_playwright_python.sync_playwright import Axe

            self.axe = Axe()

    def shot(self, label):
        self.count += 1
        self.page.screenshot(
            path=str(self.folder / f"{self.count:02d}-{label}.png"), full_page=True
        )
        if self.check_accessibility:
            target = self.page
            if self.auditor is not None:
                html = re.sub(
                    r"<script\b.*?</script>",
                    "",
                    self.page.content(),
                    flags=re.DOTALL | re.IGNORECASE,
                )
                self.auditor.set_content(html)
                target = self.auditor
            results = self.axe.run(target)
            serious = [
                f"{v['id']} ({v['impact']}): "
                + "; ".join(node["target"][0] for node in v["nodes"][:3])
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            if serious:
                self.violations[f"{label} {self.page.url}"] = serious
