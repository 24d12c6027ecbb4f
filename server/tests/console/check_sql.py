"""The SQL view: a count over the seed data, the CSV download, the tables list, trace id
links, and the server's error for a bad query."""
import csv
import io
import os
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

COUNT = "SELECT count(*) AS n FROM series WHERE metric = 'console_requests_total'"


def run(c, data):
    c.open("sql", reload=True)
    c.wait_ready("sql")
    tables = c.wait_until(lambda d: [b.text for b in c.find_all("#sql-tables button")] or False, 10, "tables")
    for t in ["exemplars", "logs", "metrics", "samples", "series", "spans"]:
        assert t in tables, tables

    # A query typed and run with Ctrl+Enter: the count the seed wrote.
    q = c.driver.find_element(By.ID, "sql-query")
    q.send_keys(COUNT)
    q.send_keys(Keys.CONTROL, Keys.ENTER)
    section = c.wait_ready("sql")
    assert section.get_attribute("data-rows") == "1"
    heads = [th.text for th in c.find_all("#sql-table th")]
    cells = [td.text for td in c.find_all("#sql-table tbody td")]
    assert heads == ["n"] and cells == [str(data["top_metric_series"])], (heads, cells)
    assert c.driver.find_element(By.ID, "sql-stats").text.startswith("1 row · "), c.driver.find_element(By.ID, "sql-stats").text
    params = urllib.parse.parse_qs(c.driver.current_url.split("#", 1)[1].split("?", 1)[1])
    assert params == {"q": [COUNT]}, c.driver.current_url
    c.shot("sql")

    # Download CSV: the button's file lands in Chromium's download directory.
    before = set(os.listdir(c.downloads))
    c.driver.find_element(By.ID, "sql-csv").click()

    def downloaded(_):
        new = [f for f in set(os.listdir(c.downloads)) - before if not f.endswith(".crdownload")]
        return new[0] if new else False
    name = c.wait_until(downloaded, 15, "CSV download")
    with open(os.path.join(c.downloads, name), encoding="utf-8") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    assert rows == [["n"], [str(data["top_metric_series"])]], rows

    # A table from the list: the spans of the seed, whose trace ids link to the trace view.
    c.driver.find_element(By.CSS_SELECTOR, '#sql-tables button[data-table="spans"]').click()
    c.wait_until(lambda d: section.get_attribute("data-rows") == str(3 + 10), 15, "13 spans")
    assert c.driver.find_element(By.ID, "sql-query").get_attribute("value") == "SELECT * FROM spans LIMIT 100"
    links = {a.get_attribute("href").split("#", 1)[1] for a in c.find_all("#sql-table a")}
    assert f"/traces?id={data['trace_id']}" in links, links

    # A bad query: the server's message in the banner.
    bad = "SELECT nope FROM series"
    c.allow("/api/v1/sql - Failed to load resource: the server responded with a status of 400")
    q = c.driver.find_element(By.ID, "sql-query")
    q.send_keys(Keys.CONTROL, "a")
    q.send_keys(Keys.DELETE)
    q.send_keys(bad, Keys.ENTER)
    c.wait_until(lambda d: section.get_attribute("data-state") == "error", 10, "error state")
    message = c.driver.execute_async_script(
        """const [q, done] = arguments;
           fetch('/api/v1/sql', {method: 'POST', body: q}).then(r => r.text()).then(done);""", bad)
    assert message.strip() and message.strip() in c.banner(), (message, c.banner())
