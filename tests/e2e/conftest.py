"""Real-browser fixtures: Playwright driving Debian's chromium (never `playwright install`)."""

import os

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a thread with
# a running loop unless told it is safe (it is: the loop only drives the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Every page reports what its Content-Security-Policy refused as a console error, so every browser test that
# asserts an empty log also asserts that nothing on its pages needed 'unsafe-inline' or 'unsafe-eval'.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                " at " + e.sourceFile + ":" + e.lineNumber + " " + (e.sample || ""));
});
"""


class ConsoleLog:
    """Console errors, uncaught exceptions, failed requests, CSP violations and dialogs of one page (a dialog
    is dismissed and counted as an error: none of our pages opens one, so one means injected script ran)."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        page.on("dialog", lambda dialog: (self.errors.append(f"dialog: {dialog.type} {dialog.message}"),
                                          dialog.dismiss()))
        page.on("console", lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("requestfailed", lambda req: self.errors.append(f"request failed: {req.url} {req.failure}"))
        page.on("response", lambda res: self.errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400
                else None)


@pytest.fixture
def new_page(browser):
    """new_page(locale="zh-CN", width=1280, height=900) -> (page, console log); pages are closed after the test."""
    contexts = []

    def make(*, locale="zh-CN", width=1280, height=900, scale=1):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height},
                                      device_scale_factor=scale)
        contexts.append(context)
        page = context.new_page()
        return page, ConsoleLog(page)

    yield make
    for context in contexts:
        context.close()
