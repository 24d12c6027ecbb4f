"""The PromQL view: a range query draws one line per series, an instant query fills the
table, a bad query shows the server's own error, the box autocompletes by keyboard, and
exemplars are drawn and open their trace."""
import json
import time
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import seed


def state(c):
    return c.find_all("section.view-promql")[0].get_attribute("data-state")


def box(c):
    return c.driver.find_element(By.ID, "promql-query")


def retype(c, text):
    q = box(c)
    q.send_keys(Keys.CONTROL, "a")
    q.send_keys(Keys.DELETE)
    if text:
        q.send_keys(text)
    return q


def suggestions(c):
    """The names in the open suggestion list (read in one go: the list is redrawn as the
    user types)."""
    return c.script("return [...document.querySelectorAll('#promql-query-suggest:not([hidden]) li')]"
                    ".map(li => li.firstChild.textContent)")


def wait_suggestions(c, what):
    return c.wait_until(lambda d: suggestions(c) or False, 10, f"suggestions for {what}")


def run(c, data):
    top, n = data["top_metric"], data["top_metric_series"]

    # A range query: one line per series, counted by the view and by uPlot's legend.
    section = c.open(f"promql?q={top}&range=1h", reload=True)
    c.wait_ready("promql")
    assert section.get_attribute("data-series") == str(n), section.get_attribute("data-series")
    legend = c.find_all("#promql-chart .u-legend tr.u-series")
    assert len(legend) == n + 1, f"{len(legend)} legend rows for {n} series and the time"
    stats = c.driver.find_element(By.ID, "promql-stats").text
    assert stats.startswith(f"{n} series, "), stats
    assert "round trip" in stats and "server" in stats, stats
    assert 'pod="pod-7"' in c.driver.find_element(By.ID, "promql-chart").text
    c.shot("promql")

    # An instant query at the range's end, as a table: one row per job; the sum is the
    # seed's last points (i = 120 for pod p: 120 * (p % 7 + 1)).
    q = "sum by (job) (console_requests_total)"
    c.open(f"promql?q={urllib.parse.quote(q)}&range=1h&tab=table")
    c.wait_ready("promql")
    rows = c.find_all("#promql-table tbody tr")
    assert len(rows) == 1, [r.text for r in rows]
    last = seed.SPAN_S // seed.STEP_S
    want = sum(last * (p % 7 + 1) for p in range(seed.POD_SERIES))
    cells = rows[0].find_elements(By.TAG_NAME, "td")
    assert cells[0].text == '{job="api"}', cells[0].text
    assert float(cells[1].text) == want, (cells[1].text, want)
    assert c.driver.find_element(By.ID, "promql-tab-table").get_attribute("aria-selected") == "true"
    c.shot("promql-table")

    # A bad query, typed and run with Enter: the banner shows the server's own message.
    bad = "sum(rate(console_requests_total[5m])"
    c.allow(urllib.parse.urlencode({"query": bad}))  # its 400s are the point here
    server = c.fetch_json("/api/v1/query?" + urllib.parse.urlencode({"query": bad}))
    assert server["status"] == 400, server
    message = json.loads(server["body"])["error"]
    retype(c, bad)
    box(c).send_keys(Keys.ESCAPE, Keys.ENTER)
    c.wait_until(lambda d: state(c) == "error", 10, "error state")
    assert message in c.banner(), (message, c.banner())

    # Autocomplete by keyboard: a metric name, then a label name, then a value.
    c.open("promql", reload=True)
    c.wait_ready("promql")
    q = retype(c, "console_req")
    assert top in wait_suggestions(c, "console_req")
    assert q.get_attribute("aria-expanded") == "true"
    active = q.get_attribute("aria-activedescendant")
    assert active and c.driver.find_element(By.ID, active).get_attribute("aria-selected") == "true"
    q.send_keys(Keys.TAB)
    assert q.get_attribute("value") == top, q.get_attribute("value")
    assert c.driver.switch_to.active_element == q, "Tab accepted and kept the focus"
    q.send_keys("{")
    labels = wait_suggestions(c, "labels")
    assert "pod" in labels and "job" in labels, labels
    q.send_keys("po")
    c.wait_until(lambda d: suggestions(c) == ["pod"], 10, "only pod")
    q.send_keys(Keys.TAB, '="pod-11')
    values = wait_suggestions(c, "values")
    assert values[:4] == ["pod-11", "pod-110", "pod-111", "pod-112"], values
    q.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_UP, Keys.TAB)
    assert q.get_attribute("value") == f'{top}{{pod="pod-110"', q.get_attribute("value")
    q.send_keys("}")
    q.send_keys(Keys.ESCAPE)
    assert q.get_attribute("aria-expanded") == "false"
    q.send_keys(Keys.ENTER)
    c.wait_until(lambda d: section_series(c) == "1", 15, "one series")
    assert hash_params(c) == {"q": [f'{top}{{pod="pod-110"}}'], "range": ["1h"]}, c.driver.current_url
    q = retype(c, "sum by (jo")
    assert wait_suggestions(c, "by (") == ["job"]
    q.send_keys(Keys.ESCAPE)

    check_exemplars(c, data)


def hash_params(c):
    """The parameters of the page's `#/view?...`."""
    return urllib.parse.parse_qs(c.driver.current_url.split("#", 1)[1].split("?", 1)[1])


def section_series(c):
    return c.find_all("section.view-promql")[0].get_attribute("data-series")


def check_exemplars(c, data):
    """Writes a histogram-like counter with exemplars that carry the seed's trace id, and
    clicks one on the chart."""
    now = int(time.time())
    times = [now - 600 + 60 * i for i in range(10)]
    points = [{"attributes": [{"key": "path", "value": {"stringValue": "/checkout"}}],
               "startTimeUnixNano": str((now - 700) * 10**9), "timeUnixNano": str(t * 10**9),
               "asDouble": float(i * 10),
               "exemplars": [{"timeUnixNano": str(t * 10**9), "asDouble": float(i * 10),
                              "traceId": data["trace_id"], "spanId": "a1a1a1a1a1a1a1a1"}] if i % 3 == 0 else []}
              for i, t in enumerate(times)]
    body = {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [
        {"name": "console_exemplar_demo_total",
         "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": points}}]}]}]}
    assert seed.post(c.base, "/v1/metrics", body) in (200, 204)
    c.open("promql?q=console_exemplar_demo_total&range=15m")
    c.wait_until(lambda d: len(c.find_all("#promql-chart button.exemplar")) == 4, 15, "4 exemplars")
    stats = c.driver.find_element(By.ID, "promql-stats").text
    assert "4 exemplars" in stats, stats
    c.shot("promql-exemplars")
    button = c.find_all("#promql-chart button.exemplar")[1]
    assert button.get_attribute("data-trace-id") == data["trace_id"]
    button.click()
    c.wait_until(lambda d: d.current_url.endswith(f"#/traces?id={data['trace_id']}"), 10, "trace link")
