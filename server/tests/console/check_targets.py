"""The targets view: the server scrapes a one-series test exporter (job `self`, a file_sd
target) and a closed port (job `down`); the view
shows each job with its targets' health, endpoint, labels and last error, as
/api/v1/targets gives them."""
import json

from selenium.webdriver.common.by import By


def run(c, data):
    c.open("targets", reload=True)
    c.wait_ready("targets")

    def rows():
        return {e.get_attribute("data-job"): e.text
                for e in c.driver.find_elements(By.CSS_SELECTOR, "#targets-list [data-job]")}

    # The first scrapes land within a second; the view refreshes every 5 s.
    c.wait_until(lambda d: "1 / 1 up" in rows().get("self", ""), 20, "job self up")
    c.wait_until(lambda d: "0 / 1 up" in rows().get("down", ""), 20, "job down shown down")
    answer = json.loads(c.fetch_json("/api/v1/targets")["body"])["data"]["activeTargets"]
    by_job = {t["scrapePool"]: t for t in answer}
    shown = rows()
    assert by_job["self"]["scrapeUrl"] in shown["self"], shown
    assert 'job="self"' in shown["self"], shown
    err = by_job["down"]["lastError"]
    assert err and err[:30] in shown["down"], (err, shown["down"])
    health = [e.get_attribute("data-health") for e in c.driver.find_elements(By.CSS_SELECTOR, "[data-health]")]
    assert sorted(health) == ["down", "up"], health
    c.shot("targets")
