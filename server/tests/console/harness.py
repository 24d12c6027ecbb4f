"""The console's browser-test harness: Debian's Chromium, headless, driven by Selenium
through Debian's chromedriver, against a running `strata serve`.

`Console` wraps one browser session on one server: `open(hash)`, `wait(css)`,
`wait_ready(view)`, `shot(name)`, `errors()`. Check files (`check_<view>.py`) define
`run(c, data)`; `run.py` calls them one by one and fails on any assertion, exception or
SEVERE browser log entry (a console error, an uncaught exception, a failed request).
"""
import json
import os
import shutil
import tempfile
import time

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download a driver

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("STRATA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("STRATA_CHROMEDRIVER", "/usr/bin/chromedriver")

# Without the networking flags Chromium tries Google's hosts, which this machine refuses.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,860", "--lang=en-US",
]


class Console:
    """One headless Chromium on one server's console."""

    def __init__(self, base_url, shots_dir):
        self.base = base_url.rstrip("/")
        self.shots = shots_dir
        self.profile = tempfile.mkdtemp(prefix="strata-chromium-")
        self.downloads = os.path.join(self.profile, "downloads")
        os.makedirs(self.downloads)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for f in FLAGS + [f"--user-data-dir={self.profile}/user"]:
            opts.add_argument(f)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        opts.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
        })
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.allowed = []  # substrings of browser errors the current check provokes
        self.driver.set_page_load_timeout(30)

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, hash_path, reload=False):
        """Shows `#/<hash_path>` (loading the page first if needed) and waits for its
        view's section."""
        url = f"{self.base}/#/{hash_path}"
        if reload or not self.driver.current_url.startswith(self.base + "/"):
            self.driver.get(url)
        else:
            self.driver.execute_script("location.hash = arguments[0]", f"#/{hash_path}")
        name = hash_path.split("?")[0] or "promql"
        # The section appears empty first; its view module fills it once loaded.
        return self.wait(f"section.view-{name} > *") and self.wait(f"section.view-{name}")

    def wait(self, css, timeout=15):
        """The first element matching `css`, once it is present."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, css)),
            message=f"no element {css!r} within {timeout}s")

    def wait_visible(self, css, timeout=15):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, css)),
            message=f"{css!r} not visible within {timeout}s")

    def wait_until(self, fn, timeout=15, message="condition"):
        """Waits until `fn(driver)` is truthy; returns its value."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            fn, message=f"{message} not met within {timeout}s")

    def wait_ready(self, view, timeout=20):
        """Waits for `section.view-<view>[data-state=ready]`; fails at once on `error`
        with the banner's text."""
        def state(d):
            els = d.find_elements(By.CSS_SELECTOR, f"section.view-{view}")
            if not els:
                return False
            s = els[0].get_attribute("data-state")
            if s == "error":
                raise AssertionError(f"{view}: error: {self.banner()}")
            return els[0] if s == "ready" else False
        return self.wait_until(state, timeout, f"{view} ready")

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def banner(self):
        els = self.find_all("#error")
        return els[0].text if els and els[0].is_displayed() else ""

    def shot(self, name):
        """Saves a screenshot as `<shots>/<name>.png`."""
        os.makedirs(self.shots, exist_ok=True)
        path = os.path.join(self.shots, f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def allow(self, substring):
        """Lets the current check provoke browser errors containing `substring` (the
        "Failed to load resource ... 400" Chrome logs for a bad query the check sends on
        purpose, say); `run.py` forgets it after the check."""
        self.allowed.append(substring)

    def errors(self):
        """SEVERE browser log entries since the last call, less the allowed ones."""
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"
                and not any(a in e.get("message", "") for a in self.allowed)]

    def script(self, js, *args):
        return self.driver.execute_script(js, *args)

    def fetch_json(self, path, headers=None):
        """`fetch(path)` from inside the page (same origin, the page's session), as JSON."""
        return self.driver.execute_async_script(
            """const [path, headers, done] = arguments;
               fetch(path, {headers}).then(async r => done({status: r.status, body: await r.text()}))
                 .catch(e => done({status: 0, body: String(e)}));""",
            path, headers or {})


def load_figures(c, hash_path="status"):
    """Loads the console afresh (cold cache) and reads what the browser measured: bytes
    transferred (navigation plus every resource), and when the page became interactive
    and the first view ready, in ms from navigation start."""
    c.driver.execute_cdp_cmd("Network.enable", {})
    c.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    c.driver.get("about:blank")  # a new document: the same URL with a new hash is not one
    c.driver.get(f"{c.base}/#/{hash_path}")
    c.wait_ready(hash_path.split("?")[0])
    return c.script("""
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        const isConsole = (r) => new URL(r.name).pathname.startsWith('/console/');
        const assets = res.filter(isConsole);
        return {
          transferred_bytes: nav.transferSize + assets.reduce((a, r) => a + r.transferSize, 0),
          decoded_bytes: nav.decodedBodySize + assets.reduce((a, r) => a + r.decodedBodySize, 0),
          files: 1 + assets.length,
          api_calls: res.length - assets.length,
          dom_interactive_ms: Math.round(nav.domInteractive),
          dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
          load_ms: Math.round(nav.loadEventEnd),
          view_ready_ms: Math.round((performance.getEntriesByName('strata:view-ready')[0] || {}).startTime ?? -1),
        };""")


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True)


def now_ms():
    return int(time.time() * 1000)
