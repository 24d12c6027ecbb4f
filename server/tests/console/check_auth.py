"""Auth on: the console asks for a token, refuses a wrong one with the server's message,
sends a good one as a bearer header, shows only that token's tenant, and lets a
`choose_tenant` token pick among the tenants. Run by `run.py auth` (the server has tokens)."""
import urllib.error
import urllib.parse
import urllib.request

import seed


def top_metrics(c):
    c.open("cardinality")
    c.wait_ready("cardinality")
    return c.wait("#card-top-metrics").text


def sign_in(c, token):
    dialog = c.wait_visible("dialog#login")
    box = c.driver.find_element("css selector", "#token")
    assert c.driver.switch_to.active_element == box, "the token box has the focus"
    box.clear()
    box.send_keys(token)
    box.submit()
    return dialog


def run(c, data):
    t = data["tokens"]
    c.allow("status of 401")  # the refusals this check provokes on purpose
    seed.seed(c.base, {"Authorization": f"Bearer {t['acme_writer']}"})
    other = {"resourceMetrics": [{"resource": {"attributes": seed.attrs({"service.name": "g"})},
             "scopeMetrics": [{"metrics": [{"name": "globex_only_metric", "gauge": {"dataPoints": [
                 {"attributes": [], "timeUnixNano": str(seed.time.time_ns()), "asDouble": 7.0}]}}]}]}]}
    seed.post(c.base, "/v1/metrics", other, {"Authorization": f"Bearer {t['globex_writer']}"})

    # No token: the prompt.
    c.open("cardinality", reload=True)
    c.wait_visible("dialog#login")
    c.shot("login-prompt")
    assert c.script("return sessionStorage.getItem('strata.token')") is None

    # A wrong token: refused, the prompt comes back with the server's message.
    sign_in(c, "not-a-token")
    c.wait_until(lambda d: c.find_all("#login-error")[0].is_displayed(), message="login error shown")
    assert c.find_all("#login-error")[0].text.strip(), "the refusal has a message"

    # The acme reader: its tenant only, no picker.
    sign_in(c, t["acme_reader"])
    c.wait_until(lambda d: not c.find_all("dialog#login")[0].is_displayed(), message="prompt closed")
    tenant = c.wait("#tenant")
    c.wait_until(lambda d: tenant.get_attribute("value") == "acme", message="tenant acme shown")
    assert not tenant.is_enabled(), "a tenant-bound token cannot pick"
    text = top_metrics(c)
    assert "console_requests_total" in text and "globex_only_metric" not in text, text
    sent = c.driver.execute_async_script(
        """const done = arguments[0];
           import('/console/lib/api.js').then(m => m.api.get('/api/v1/label/__name__/values'))
             .then(r => done(r.data), e => done(String(e)));""")
    assert "console_requests_total" in sent and "globex_only_metric" not in sent, sent
    c.shot("login")

    # The logs view's live tail: the browser cannot send the token as a header on a
    # WebSocket, so it goes as a subprotocol; the tail then shows acme's new lines only.
    c.open("logs?" + urllib.parse.urlencode({"q": '{service_name="authtail"}', "range": "1h"}))
    c.wait_ready("logs")
    c.find_all("#logs-live")[0].click()
    c.wait_until(lambda d: c.script("return document.querySelector('section.view-logs').dataset.live || null")
                 == "tail", message="the tail socket open with the token")
    for writer, line in [("globex_writer", "globex must not show"), ("acme_writer", "acme tailed line")]:
        now = str(seed.time.time_ns())
        body = {"streams": [{"stream": {"service_name": "authtail"}, "values": [[now, line]]}]}
        assert seed.post(c.base, "/loki/api/v1/push", body, {"Authorization": f"Bearer {t[writer]}"}) == 204
    c.wait_until(lambda d: any("acme tailed line" in r.text for r in c.find_all("#logs-lines tr.log-line")),
                 message="acme's line tailed")
    rows = [r.text for r in c.find_all("#logs-lines tr.log-line")]
    assert len(rows) == 1 and not any("globex" in r for r in rows), rows
    c.find_all("#logs-live")[0].click()

    # The operator (choose_tenant): both tenants, and picking globex shows globex's numbers.
    c.find_all("#signout")[0].click()
    c.wait_visible("dialog#login")
    sign_in(c, t["operator"])
    tenant = c.wait("#tenant")
    c.wait_until(lambda d: tenant.is_enabled(), message="picker enabled")
    options = [o.get_attribute("value") for o in tenant.find_elements("css selector", "option")]
    assert set(options) >= {"acme", "globex"}, options
    c.driver.execute_script(
        "const s = document.getElementById('tenant'); s.value = 'globex';"
        "s.dispatchEvent(new Event('change'));")
    c.wait_until(lambda d: "globex_only_metric" in top_metrics(c), message="globex shown")

    # The server itself still refuses a request without a token.
    try:
        urllib.request.urlopen(c.base + "/api/v1/status/tsdb", timeout=10)
        raise AssertionError("no token, but an answer")
    except urllib.error.HTTPError as e:
        assert e.code == 401, e.code
