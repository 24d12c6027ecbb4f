"""The shell: every view loads without a browser error, the nav marks the current view and
is reachable by keyboard, and an unknown console file is a 404 (not the page)."""
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

VIEWS = ["promql", "sql", "traces", "logs", "cardinality", "targets", "status"]


def run(c, data):
    for v in VIEWS:
        section = c.open(v, reload=True)
        assert section.is_displayed(), v
        current = c.find_all('header nav a[aria-current="page"]')
        assert [a.get_attribute("data-view") for a in current] == [v], v
        errs = c.errors()
        assert not errs, f"{v}: {errs}"
    # Keyboard: the skip link comes first, then the nav links in order.
    c.open("status", reload=True)
    body = c.driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert c.driver.switch_to.active_element.get_attribute("class") == "skip"
    seen = []
    for _ in VIEWS:
        c.driver.switch_to.active_element.send_keys(Keys.TAB)
        seen.append(c.driver.switch_to.active_element.get_attribute("data-view"))
    assert seen == VIEWS, seen
    c.driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)  # back to Targets
    c.driver.switch_to.active_element.send_keys(Keys.ENTER)
    c.wait("section.view-targets")
    try:
        urllib.request.urlopen(c.base + "/console/no-such-file.js", timeout=10)
        raise AssertionError("an unknown console file was served")
    except urllib.error.HTTPError as e:
        assert e.code == 404, e.code
