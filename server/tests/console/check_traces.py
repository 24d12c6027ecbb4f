"""The traces view on the seed data: a search by service lists its traces (the error trace
marked), operation, tag and duration filters narrow it, the trace id box opens a trace,
whose waterfall nests its spans by parent, marks the failed span and shows a span's
details; the trace links to its logs and its service's RED metrics."""
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select


def search(c, **fields):
    """Fills the search form (`service`, `operation`, `tags`, `min`, `max`), runs it and
    returns the result rows once the view is ready again."""
    d = c.driver
    for name, value in fields.items():
        el = d.find_element(By.ID, f"traces-{name}")
        if el.tag_name == "select":
            Select(el).select_by_value(value)
            if name == "service":  # its operations load after the change
                c.wait_until(lambda _: len(Select(d.find_element(By.ID, "traces-operation")).options) > 1,
                             message="operations loaded")
        else:
            el.clear()
            el.send_keys(value)
    c.script("document.querySelector('section.view-traces').dataset.state = ''")
    d.find_element(By.ID, "traces-search").click()
    c.wait_ready("traces")
    return c.find_all("#traces-results tr.trace-row")


def run(c, data):
    tid = data["trace_id"]
    d = c.driver
    c.open("traces", reload=True)
    c.wait_ready("traces")
    services = [o.get_attribute("value") for o in Select(d.find_element(By.ID, "traces-service")).options]
    assert services == ["frontend", "payments"], services

    rows = search(c, service="frontend")
    assert len(rows) == data["frontend_traces"], len(rows)
    ops = [o.get_attribute("value") for o in Select(d.find_element(By.ID, "traces-operation")).options]
    assert ops == ["", "GET /checkout", "GET /home"], ops
    by_id = {r.get_attribute("data-trace-id"): r for r in rows}
    assert tid in by_id, list(by_id)
    checkout = by_id[tid]
    cells = checkout.find_elements(By.TAG_NAME, "td")
    assert "frontend: GET /checkout" in cells[0].text, cells[0].text
    assert cells[1].text == str(data["trace_spans"]), cells[1].text
    assert "trace-error" in checkout.get_attribute("class")
    assert cells[3].text == "120ms", cells[3].text
    others = [r for r in rows if r is not checkout]
    assert all("GET /home" in r.text and "trace-error" not in r.get_attribute("class") for r in others)
    assert all(r.find_elements(By.TAG_NAME, "td")[1].text == "1" for r in others)
    dots = c.find_all("#traces-scatter circle")
    assert len(dots) == data["frontend_traces"], len(dots)
    assert len(c.find_all("#traces-scatter circle.dot-error")) == 1
    assert "service=frontend" in d.current_url, d.current_url
    c.shot("traces-search")

    # The filters reach the server and narrow the list.
    assert len(search(c, operation="GET /home")) == 10
    assert [r.get_attribute("data-trace-id") for r in search(c, operation="", tags="http.route=/checkout")] == [tid]
    assert [r.get_attribute("data-trace-id") for r in search(c, tags="", min="100ms")] == [tid]
    assert len(search(c, min="", max="50ms")) == 10
    search(c, max="")

    # The tags box as Jaeger UI writes it becomes the API's JSON object.
    tags = d.execute_async_script("""const [text, done] = arguments;
        import('/console/views/traces.js').then((m) => {
          const out = [m.tagsJson(text), m.tagsJson('  ')];
          try { m.tagsJson('novalue'); out.push('accepted'); } catch (e) { out.push(e.message); }
          done(out);
        }).catch((e) => done([String(e)]));""", 'error=true http.route="/a b" q="x\\"y"')
    assert tags[0] == '{"error":"true","http.route":"/a b","q":"x\\"y"}', tags[0]
    assert tags[1] == "" and "malformed tags" in tags[2], tags

    # A malformed duration is refused in the page, with a message.
    box = d.find_element(By.ID, "traces-min")
    box.clear()
    box.send_keys("fast")
    d.find_element(By.ID, "traces-search").click()
    c.wait_until(lambda _: "invalid min duration" in c.banner(), message="duration error shown")
    box.clear()

    # The trace id box opens the trace by keyboard.
    idbox = d.find_element(By.ID, "traces-id")
    idbox.send_keys(tid.upper(), Keys.ENTER)
    c.wait_until(lambda _: f"id={tid}" in d.current_url, message="trace url")
    c.wait_ready("traces")
    spans = c.find_all("#trace-waterfall .span-row")
    assert len(spans) == data["trace_spans"], len(spans)
    depth = {s.get_attribute("data-op"): int(s.get_attribute("data-depth")) for s in spans}
    assert depth == {"GET /checkout": 0, "charge": 1, "db query": 2}, depth
    assert depth["db query"] > depth["charge"]
    errors = [s.get_attribute("data-op") for s in spans if "span-error" in s.get_attribute("class")]
    assert errors == ["charge"], errors
    services = {s.get_attribute("data-op"): s.get_attribute("data-service") for s in spans}
    assert services == {"GET /checkout": "frontend", "charge": "payments", "db query": "payments"}, services

    # A span's details: status, attributes, resource.
    charge = next(s for s in spans if s.get_attribute("data-op") == "charge")
    charge.find_element(By.CSS_SELECTOR, ".span-name").click()
    detail = c.wait_visible("#trace-span-detail h2")
    text = d.find_element(By.ID, "trace-span-detail").text
    assert "payments: charge" in detail.text, detail.text
    for want in ["ERROR: card declined", "payment.provider", "acme", "service.name", "b2b2b2b2b2b2b2b2",
                 "a1a1a1a1a1a1a1a1", "80ms"]:
        assert want in text, (want, text)
    c.shot("trace")

    # Collapsing the root hides its subtree; expanding shows it again.
    toggle = spans[0].find_element(By.CSS_SELECTOR, ".wf-toggle")
    toggle.click()
    assert [s.is_displayed() for s in spans] == [True, False, False]
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert all(s.is_displayed() for s in spans)

    # RED metrics: the root service's span-metrics rate in the PromQL view.
    red = d.find_element(By.ID, "trace-red-link").get_attribute("href")
    q = urllib.parse.parse_qs(red.split("#/promql?", 1)[1])["q"][0]
    assert 'traces_spanmetrics_calls_total{service="frontend"}' in q and "rate(" in q, q

    # Logs for this trace: the error line that carries its id.
    d.find_element(By.ID, "trace-logs-link").click()
    c.wait("section.view-logs")
    c.wait_ready("logs")
    lines = c.find_all("#logs-lines tr.log-line")
    assert len(lines) == 1, [r.text for r in lines]
    assert f"checkout failed trace_id={tid}" in lines[0].text, lines[0].text
