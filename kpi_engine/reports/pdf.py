"""Pages to A4 PDF with headless Chromium's print-to-PDF, driven by Playwright.

The browser is the machine's own (Debian's ``chromium``, or ``$KPI_CHROMIUM``), passed to Playwright as
``executable_path``: nothing is downloaded, ever. Pages are opened from files with every request that
is not a ``file:`` URL refused, so a page cannot reach the network while it is printed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["CHROMIUM_ENV", "chromium_path", "html_to_pdf"]

CHROMIUM_ENV = "KPI_CHROMIUM"
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path(given: str | None = None) -> str:
    """The browser to print with: ``given``, else ``$KPI_CHROMIUM``, else the first Chromium on the PATH."""
    wanted = given or os.environ.get(CHROMIUM_ENV)
    if wanted:
        found = shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)
        if found is None:
            raise ConfigurationError(
                f"there is no browser at {wanted!r}.", hint=f"set ${CHROMIUM_ENV} to the path of Chromium"
            )
        return found
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigurationError(
        "a PDF is printed by Chromium, and none was found on this machine.",
        hint=f"install it (Debian: apt-get install chromium) or set ${CHROMIUM_ENV} to its path",
    )


def html_to_pdf(pages: Sequence[tuple[Path, Path]], *, chromium: str | None = None) -> None:
    """Print each ``(html, pdf)`` pair: A4, backgrounds kept, the page's own print stylesheet."""
    executable = chromium_path(chromium)
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ConfigurationError(
            "printing a PDF needs Playwright, which is not installed.", hint="pip install 'kpi-engine[pdf]'"
        ) from None
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.route(
                    "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
                )
                for html, pdf in pages:
                    page.goto(html.resolve().as_uri(), wait_until="load")
                    page.emulate_media(media="print")
                    page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(
            f"Chromium at {executable} could not print the PDF: {first}.",
            hint="check that it starts: chromium --headless --version",
        ) from None
