"""The cardinality page: the seed's largest metric first with its series count, links to
PromQL, drill-down by metric and by label, and a rejection (samples older than the
retention, written here) counted by reason, in the totals and in the history chart."""
import re
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import seed

OLD_SAMPLES = 3


def write_rejected(base):
    """Three samples from 2000-01-01: refused as out of retention."""
    points = [{"timeUnixNano": str((946684800 + i) * 10**9), "asDouble": 1.0} for i in range(OLD_SAMPLES)]
    body = {"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"metrics": [
        {"name": "console_too_old", "gauge": {"dataPoints": points}}]}]}]}
    assert seed.post(base, "/v1/metrics", body) == 200


def self_metric(base, reason):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^strata_rejected_samples_total\{tenant="default",signal="metrics",reason="%s"\} (\d+)$' % reason,
                  text, re.M)
    return int(m.group(1)) if m else 0


def cells(c, css):
    """The text of each cell of the rows of table `css`, read in one go (the page redraws
    its tables as answers come)."""
    return c.script("return [...document.querySelectorAll(arguments[0])]"
                    ".map(tr => [...tr.cells].map(td => td.innerText.trim()))", f"{css} tbody tr")


def first_column(c, css):
    return [row[0] for row in cells(c, css)]


def run(c, data):
    top, n = data["top_metric"], data["top_metric_series"]
    write_rejected(c.base)
    c.open("cardinality", reload=True)
    section = c.wait_ready("cardinality")

    names = first_column(c, "#card-top-metrics")
    assert names[0] == top, names
    for name, count in data["metric_series"].items():
        assert name in names, (name, names)
    first = cells(c, "#card-top-metrics")[0]
    assert first[1] == str(n), first
    assert len(names) <= 10
    active = c.driver.find_element(By.ID, "card-active").text
    assert "Active series" in active and "Series in the head" in active, active
    assert c.driver.find_element(By.ID, "card-ingest").text.startswith("Ingest rate")

    # Labels by distinct values: pod has one value per series of the top metric.
    labels = {row[0]: row[1] for row in cells(c, "#card-labels")}
    assert labels.get("pod") == str(n), labels

    # Rejections: the three old samples, by reason, as the self-metric counts them.
    want = self_metric(c.base, "out_of_retention")
    assert want >= OLD_SAMPLES, want
    rows = cells(c, "#card-rejections table.data")
    assert ["metrics", "out_of_retention", str(want)] in rows, rows
    c.shot("cardinality")

    # The history chart shows the rejection once the sampler has taken its next point.
    deadline = time.time() + 40
    while not c.find_all("#card-rejections-chart .uplot") and time.time() < deadline:
        time.sleep(3)
        c.driver.find_element(By.ID, "card-apply").click()
        c.wait_ready("cardinality")
    assert c.find_all("#card-rejections-chart .uplot"), "no rejection history chart within 40 s"
    legend = c.driver.find_element(By.ID, "card-rejections-chart").text
    assert "metrics/out_of_retention" in legend, legend

    # Top 20 by the select, kept in the URL.
    Select(c.driver.find_element(By.ID, "card-limit")).select_by_value("20")
    c.wait_until(lambda d: "limit=20" in d.current_url, 10, "limit=20 in the URL")
    c.wait_ready("cardinality")

    # Focus label: pod's values by series, ten of them (one series each).
    c.driver.find_element(By.CSS_SELECTOR, '#card-labels button[data-label="pod"]').click()
    c.wait_until(lambda d: len(cells(c, "#card-focus")) == 20, 10, "20 pod values")
    values = cells(c, "#card-focus")
    assert all(v[0].startswith("pod-") and v[1] == "1" for v in values), values
    assert "focus=pod" in c.driver.current_url

    # Drill down into the top metric: only its series count.
    c.driver.find_element(By.CSS_SELECTOR, f'#card-top-metrics button[data-metric="{top}"]').click()
    c.wait_until(lambda d: first_column(c, "#card-top-metrics") == [top], 10, "only the drilled metric")
    assert c.driver.find_element(By.ID, "card-match").get_attribute("value") == f'{{__name__="{top}"}}'
    labels = first_column(c, "#card-labels")
    assert "room" not in labels and "pod" in labels, labels

    # The metric links to the PromQL view, which draws its series.
    c.driver.find_element(By.LINK_TEXT, top).click()
    c.wait_until(lambda d: f"#/promql?q={top}" in d.current_url, 10, "PromQL link")
    c.wait_until(lambda d: (c.find_all("section.view-promql[data-series]") or [None])[0], 15, "the chart")
    promql = c.wait_ready("promql")
    assert promql.get_attribute("data-series") == str(n)
    assert c.driver.find_element(By.ID, "promql-query").get_attribute("value") == top
