"""The status page: the server's version (as buildinfo reports it), runtime panels, disk by
signal, the config without secrets, and the 10 s refresh, which stops when the view goes."""
import json
import re
import time

from selenium.webdriver.common.by import By

SECRET_KEYS = re.compile(r'^\s*(?:[\w.]*(?:digest|secret|password)[\w.]*)\s*=\s*"([^"]*)"', re.I | re.M)


def runtimeinfo_calls(c):
    return c.script("return performance.getEntriesByType('resource')"
                    ".filter(r => r.name.includes('/api/v1/status/runtimeinfo')).length")


def run(c, data):
    c.open("status", reload=True)
    c.wait_ready("status")
    # Prometheus's buildinfo gives a Prometheus version (for Grafana) and ours as revision.
    build = json.loads(c.fetch_json("/api/v1/status/buildinfo")["body"])["data"]
    version = c.driver.find_element(By.ID, "status-version").text
    assert version and build["revision"] == f"strata-{version}", (version, build)
    server = c.driver.find_element(By.ID, "status-server").text
    for title in ["Server", "Memory", "WAL", "Uptime"]:
        assert title in server, server
    # The compaction backlog as the server counts it (nothing flushed yet: none).
    info = json.loads(c.fetch_json("/api/v1/status/runtimeinfo")["body"])["data"]["compaction"]
    assert info["backlogPartitions"] == 0, info
    assert "Waiting for compaction\n0 partitions, 0 file sets, 0 B" in server, server

    config = c.driver.find_element(By.ID, "status-config").text
    answer = json.loads(c.fetch_json("/api/v1/status/config")["body"])["data"]["toml"]
    assert config.strip() == answer.strip()
    assert "data_dir" in config, config
    leaked = [v for v in SECRET_KEYS.findall(config) if v != "<secret>"]
    assert not leaked, leaked

    disk = c.driver.find_element(By.ID, "status-disk")
    signals = [e.get_attribute("data-signal") for e in disk.find_elements(By.CSS_SELECTOR, "[data-signal]")]
    for s in ["metrics", "traces", "logs"]:
        assert s in signals, signals
    c.shot("status")

    # Refreshed every 10 s while shown; not once the view is gone.
    first = runtimeinfo_calls(c)
    c.wait_until(lambda d: runtimeinfo_calls(c) > first, 15, "a refresh within 10 s")
    c.open("promql")
    gone = runtimeinfo_calls(c)
    time.sleep(11)
    assert runtimeinfo_calls(c) == gone, "the status view kept refreshing after it was left"
