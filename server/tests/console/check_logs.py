"""The logs view on the seed data: a LogQL selector shows the stream's lines newest first
with a volume histogram by level, the line with a trace id links to the trace (and opens
it), a line expands to its labels and structured metadata, the query box completes label
names and values by keyboard, a metric query draws a chart; live, a log query follows new
lines over Loki's tail WebSocket and a metric query re-runs."""
import time
import urllib.parse

import seed

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def reset(c):
    c.script("document.querySelector('section.view-logs').dataset.state = ''")


def live_state(c):
    return c.script("return document.querySelector('section.view-logs').dataset.live || null")


def push_lines(c, lines):
    """Pushes `lines` (oldest first, a millisecond apart) to the stream
    {service_name="livetail"} with Loki's push API, as the session's token when it has one."""
    now = time.time_ns()
    values = [[str(now + i * 1_000_000), line] for i, line in enumerate(lines)]
    body = {"streams": [{"stream": {"service_name": "livetail"}, "values": values}]}
    token = c.script("return sessionStorage.getItem('strata.token')")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    status = seed.post(c.base, "/loki/api/v1/push", body, headers)
    assert status == 204, status


def suggestions(c):
    """The options shown under the query box (read in one script: the list is redrawn as
    the user types)."""
    return c.script("""const ul = document.querySelector('#logs-query ~ .suggest');
        return ul && !ul.hidden ? [...ul.querySelectorAll('li')].map((li) => li.textContent) : [];""")


def run(c, data):
    tid = data["trace_id"]
    d = c.driver
    sel = data["log_selector"]
    c.open("logs?" + urllib.parse.urlencode({"q": sel, "range": "1h"}), reload=True)
    c.wait_ready("logs")
    lines = c.find_all("#logs-lines tr.log-line")
    assert len(lines) == data["log_lines"], len(lines)
    ts = [int(r.get_attribute("data-ts")) for r in lines]
    assert ts == sorted(ts, reverse=True), "newest first"
    assert "50 lines" in d.find_element(By.ID, "logs-stats").text

    # The volume histogram counts the same lines, by level.
    c.wait("#logs-volume canvas")
    assert d.find_element(By.ID, "logs-volume").get_attribute("data-total") == str(data["log_lines"])
    legend = [e.text for e in c.find_all("#logs-volume .u-legend .u-label")]
    assert "info" in legend and "error" in legend, legend
    c.script("window.scrollTo(0, 0)")
    c.shot("logs")

    # The error line links its trace id, and expands to its labels and metadata.
    errors = c.find_all("#logs-lines tr.log-line.level-error")
    assert len(errors) == 1, len(errors)
    row = errors[0]
    assert f"checkout failed trace_id={tid}" in row.text, row.text
    link = row.find_element(By.CSS_SELECTOR, ".trace-link")
    assert link.get_attribute("href").endswith(f"#/traces?id={tid}"), link.get_attribute("href")
    assert len(c.find_all("#logs-lines tr.log-line .trace-link")) == 1, "only the line with an id links"
    row.find_element(By.CSS_SELECTOR, ".log-toggle").click()
    detail = row.find_element(By.XPATH, "following-sibling::tr[1]")
    assert detail.is_displayed() and "log-detail" in detail.get_attribute("class")
    for want in ["Stream labels", "Structured metadata", "trace_id", tid, "level", "error"]:
        assert want in detail.text, (want, detail.text)
    assert detail.find_element(By.CSS_SELECTOR, ".trace-link").get_attribute("href").endswith(tid)

    # Keyboard: completion of a label name, then its values; Escape closes; Enter runs.
    box = d.find_element(By.ID, "logs-query")
    box.clear()
    box.send_keys("{serv")
    c.wait_until(lambda _: suggestions(c) == ["service_name"], message="service_name offered")
    assert box.get_attribute("aria-activedescendant"), "the active option is announced"
    assert c.find_all("#logs-query ~ .suggest")[0].get_attribute("role") == "listbox"
    box.send_keys(Keys.TAB)
    assert box.get_attribute("value") == '{service_name="', box.get_attribute("value")
    c.wait_until(lambda _: suggestions(c) == ["frontend"], message="values offered")
    box.send_keys(Keys.ESCAPE)
    assert suggestions(c) == []
    box.send_keys('frontend"} |= "checkout"')
    reset(c)
    box.send_keys(Keys.ENTER)
    c.wait_ready("logs")
    lines = c.find_all("#logs-lines tr.log-line")
    assert len(lines) == 1 and "checkout failed" in lines[0].text, [r.text for r in lines]
    assert "checkout" in urllib.parse.unquote(d.current_url), d.current_url

    # The completion contexts, from the module the page uses.
    contexts = d.execute_async_script("""const done = arguments[0];
        import('/console/lib/logql-suggest.js').then((m) => done([
          '{service_name="fr', '{a="b", lev', '{a="b"} | js', '{a="x{', '{a=~`p', '{a="b"} |= "x', 'rate(',
        ].map((t) => m.logqlContext(t, t.length)))).catch((e) => done([String(e)]));""")
    assert contexts[0] == {"kind": "value", "label": "service_name", "op": "=", "quote": '"', "from": 15,
                           "prefix": "fr"}, contexts[0]
    assert contexts[1] == {"kind": "name", "from": 8, "prefix": "lev"}, contexts[1]
    assert contexts[2] == {"kind": "stage", "from": 10, "prefix": "js"}, contexts[2]
    assert (contexts[3]["kind"], contexts[3]["prefix"]) == ("value", "x{"), contexts[3]
    assert (contexts[4]["op"], contexts[4]["quote"], contexts[4]["prefix"]) == ("=~", "`", "p"), contexts[4]
    assert contexts[5] is None and contexts[6] is None, contexts[5:]

    # A metric query draws series instead of lines.
    box.clear()
    box.send_keys(f"sum by (level) (count_over_time({sel}[5m]))")
    reset(c)
    d.find_element(By.ID, "logs-run").click()
    c.wait_ready("logs")
    c.wait("#logs-chart canvas")
    assert not d.find_element(By.ID, "logs-lines").is_displayed()
    legend = [e.text for e in c.find_all("#logs-chart .u-legend .u-label")]
    assert '{level="error"}' in legend and '{level="info"}' in legend, legend

    # Live, a log query follows new lines over Loki's tail WebSocket: lines pushed after it
    # started show at the top, newest first, without a run (a stream of its own, so the
    # seed's counts stay as they are).
    box.clear()
    box.send_keys('{service_name="livetail"}')
    live = d.find_element(By.ID, "logs-live")
    live.click()
    c.wait_until(lambda _: live_state(c) == "tail", message="the tail socket open")
    push_lines(c, ["first tailed line", "second tailed line"])
    c.wait_until(lambda _: len(c.find_all("#logs-lines tr.log-line")) == 2, message="tailed lines shown")
    rows = [r.text for r in c.find_all("#logs-lines tr.log-line")]
    assert "second tailed line" in rows[0] and "first tailed line" in rows[1], rows
    assert "Live: 2 new lines" in d.find_element(By.ID, "logs-stats").text
    push_lines(c, ["third tailed line"])
    c.wait_until(lambda _: "third tailed line" in c.find_all("#logs-lines tr.log-line")[0].text,
                 message="a later line on top")
    assert len(c.find_all("#logs-lines tr.log-line")) == 3

    # A metric query, live, re-runs by itself every 5 s instead.
    box.clear()
    box.send_keys(f"sum(count_over_time({sel}[5m]))")
    d.find_element(By.ID, "logs-run").click()
    c.wait_ready("logs")
    assert live_state(c) is None, "no tail for a metric query"
    reset(c)
    c.wait_ready("logs", timeout=12)
    live.click()
    c.wait_ready("logs")  # a run under way when live stopped has drawn its lines
    box.clear()
    box.send_keys(sel)
    d.find_element(By.ID, "logs-run").click()
    c.wait_ready("logs")

    # A trace opens from a log line.
    row = c.find_all("#logs-lines tr.log-line.level-error")[0]
    row.find_element(By.CSS_SELECTOR, ".trace-link").click()
    c.wait("section.view-traces")
    c.wait_ready("traces")
    assert d.current_url.endswith(f"#/traces?id={tid}"), d.current_url
    spans = c.find_all("#trace-waterfall .span-row")
    assert len(spans) == data["trace_spans"], len(spans)
