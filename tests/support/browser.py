"""Open a local HTML page in the system's headless Chromium (Debian `chromium` and `chromium-driver`) via selenium."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Flags for a root user in a container, with nothing that phones home.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)


def missing() -> str | None:
    """Why no browser test can run here, or None when Chromium and its driver are installed."""
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if absent:
        return (
            f"{' and '.join(absent)} not installed (Debian: apt-get install chromium chromium-driver; "
            ".ci/run installs them)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@dataclass
class Page:
    driver: Any  # selenium.webdriver.Chrome
    console: list[dict[str, Any]]  # the browser's console entries after loading
    resources: list[str]  # every URL the page fetched besides itself

    @property
    def errors(self) -> list[str]:
        return [str(e.get("message")) for e in self.console if e.get("level") == "SEVERE"]


@contextmanager
def open_page(path: Path) -> Iterator[Page]:
    """Load `path` offline (the network is switched off first) in a fresh profile; yield what it did."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))  # empty: no cache, extensions or history
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        driver.get(path.resolve().as_uri())
        driver.execute_script("return document.readyState")
        resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        yield Page(driver, list(driver.get_log("browser")), list(resources))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
