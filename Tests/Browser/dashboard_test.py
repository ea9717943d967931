#!/usr/bin/env python3
"""The dashboard in a real browser: headless Debian Chromium driven through Selenium.

Starts `loyali-hooks serve` on loopback with one sink that succeeds and one that fails (a small
receiver in this process), logs in, and walks the operator's journey: the health table (checked
number by number against `stats --json`), a failed delivery and its Resend, Test on a sink, a new
subscription's YAML (checked with `validate`), an event whose data holds <script> and
<img onerror> (shown as text, never run), and the refusals: a POST without the CSRF token, a
cross-site POST and a forged Host. Screenshots of every page go to Tests/Browser/output/.

Usage: dashboard_test.py [path/to/loyali-hooks]   (default .build/debug/loyali-hooks)
"""
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT = os.path.join(ROOT, "Tests", "Browser", "output")
BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "loyali-hooks"))
ADMIN_TOKEN = "browser-test-admin-token"
INGEST_TOKEN = "browser-test-ingest-token"
SECRET = "whsec_YnJvd3Nlci10ZXN0LXNpZ25pbmctc2VjcmV0LTAwMDA="
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
checks = []


def check(condition, what):
    checks.append(what)
    if not condition:
        raise AssertionError(what)
    print("ok -", what, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.BaseHTTPRequestHandler):
    """/ok answers 200, /fail answers 503: a healthy and a broken subscriber."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, text = (200, b'{"received":true}') if self.path.startswith("/ok") else (503, b"maintenance window")
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), data


def api(admin, path):
    status, _, data = request(admin, "GET", path, headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    assert status == 200, (path, status, data)
    return json.loads(data)


def wait(condition, seconds=20, what="condition"):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def main():
    shutil.rmtree(OUTPUT, ignore_errors=True)
    os.makedirs(OUTPUT)
    work = tempfile.mkdtemp(prefix="loyali-dashboard-")
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    receiver_port = receiver.server_address[1]
    ingest, admin = free_port(), free_port()
    os.makedirs(os.path.join(work, "pipelines"))
    with open(os.path.join(work, "pipelines", "shop.yaml"), "w") as f:
        f.write(f"""pipeline: shop
description: Loyalty events to the shop's CRM and to a partner that is down.
source: {{ type: http, listen: "127.0.0.1:{ingest}", path: /events, token: "${{INGEST_TOKEN}}" }}
filter:
  events: ["*"]
sign:
  secrets: ["${{SHOP_SECRET}}"]
sinks:
  crm: {{ type: http, url: "http://127.0.0.1:{receiver_port}/ok", retry: {{ schedule: [0s, 1s] }} }}
  partner: {{ type: http, url: "http://127.0.0.1:{receiver_port}/fail", retry: {{ schedule: [0s, 1s] }}, pause: false }}
""")
    with open(os.path.join(work, "admin-token"), "w") as f:
        f.write(ADMIN_TOKEN)
    environment = dict(os.environ, INGEST_TOKEN=INGEST_TOKEN, SHOP_SECRET=SECRET)
    state = os.path.join(work, "state")
    serve = subprocess.Popen(
        [BINARY, "serve", os.path.join(work, "pipelines"), "--state", state, "--admin", f"127.0.0.1:{admin}",
         "--admin-token-file", os.path.join(work, "admin-token"), "--no-watch"],
        env=environment, stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUTPUT, "serve.log"), "w"))
    driver = None
    try:
        wait(lambda: request_ok(admin, "/readyz"), what="serve to be ready")
        types = ["points.earned", "tier.upgraded", "redemption.created", "customer.created"]
        for n in range(24):
            post_event(ingest, {"id": f"evt_browser_{n}", "event_type": types[n % 4], "data": {"customer_id": f"cust_{n}", "points": 10 * n}})
        post_event(ingest, {"id": "evt_xss", "event_type": "points.earned", "data": {"customer_id": "cust_xss", "note": XSS}})
        # Every delivery settled: crm succeeded, partner failed after its two attempts.
        wait(lambda: settled(admin), seconds=40, what="deliveries to settle")

        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1000",
                     "--force-color-profile=srgb", "--disable-extensions"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        driver.set_page_load_timeout(30)
        base = f"http://127.0.0.1:{admin}"
        until = WebDriverWait(driver, 20)

        # Log in.
        driver.get(base + "/")
        check(driver.current_url.endswith("/login"), "an anonymous visit is sent to the login form")
        driver.save_screenshot(os.path.join(OUTPUT, "01-login.png"))
        field = driver.find_element(By.ID, "token")
        check(driver.find_element(By.CSS_SELECTOR, "label[for=token]").text != "", "the token field has a label")
        field.send_keys("wrong-token")
        field.send_keys(Keys.ENTER)
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))
        check("not the admin token" in driver.find_element(By.CSS_SELECTOR, ".error").text, "a wrong token is refused")
        driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN + Keys.ENTER)
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#health tbody tr[data-sink]"))
        cookie = driver.get_cookie("lh_session")
        check(cookie is not None and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict", "the session cookie is HttpOnly and SameSite=Strict")
        check(cookie.get("expiry") is not None, "the session cookie expires")

        # The health table equals stats --json, number by number.
        output = subprocess.check_output([BINARY, "stats", "--since", "24h", "--json", "--state", state], env=environment, text=True)
        rows = [json.loads(line) for line in output.splitlines() if line.strip()]
        check(len(rows) == 2, "stats --json reports both sinks")
        time.sleep(0.3)
        for row in rows:
            tr = driver.find_element(By.CSS_SELECTOR, f'#health tr[data-pipeline="{row["pipeline"]}"][data-sink="{row["sink"]}"]')
            cell = lambda field: tr.find_element(By.CSS_SELECTOR, f'[data-field="{field}"]')
            for field in ["deliveries", "pending", "in_flight"]:
                check(int(cell(field).text) == row[field], f"{row['sink']}: {field} {cell(field).text} equals stats' {row[field]}")
            check(int(cell("failed").get_attribute("data-raw")) == row["failed"], f"{row['sink']}: failed equals stats")
            shown = cell("success_rate").get_attribute("data-raw")
            check((shown in ("", None) and row["success_rate"] is None) or float(shown) == row["success_rate"], f"{row['sink']}: success rate equals stats")
            p50 = cell("latency").get_attribute("data-p50")
            check((p50 == "" and row["latency_p50_ms"] is None) or int(p50) == row["latency_p50_ms"], f"{row['sink']}: p50 equals stats")
            healthy = "health-good" in cell("failed").get_attribute("class")
            check(healthy == (row["failed"] == 0), f"{row['sink']}: failed cell is {'green' if healthy else 'red'}")
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#charts svg rect"))
        driver.save_screenshot(os.path.join(OUTPUT, "02-overview.png"))

        # A sink disabled through the API is marked on the overview; enabled again, the mark goes.
        auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
        status, _, data = request(admin, "POST", "/api/sinks/shop/partner/disable", headers=auth)
        check(status == 200 and json.loads(data)["sink"]["state"] == "disabled", "the API disables a sink")
        driver.refresh()
        badge = until.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#health tr[data-sink="partner"] .sink-state[data-state="disabled"]'))
        check("disabled since" in badge[0].text, "the overview marks a disabled sink")
        check(not driver.find_elements(By.CSS_SELECTOR, '#health tr[data-sink="crm"] .sink-state'), "a healthy sink has no mark")
        driver.save_screenshot(os.path.join(OUTPUT, "02b-overview-disabled-sink.png"))
        status, _, data = request(admin, "POST", "/api/sinks/shop/partner/enable", headers=auth)
        check(status == 200 and json.loads(data)["sink"]["state"] == "healthy", "the API enables it again")

        # The delivery log, filtered to failures; open one.
        driver.get(base + "/#/log?status=failed&pipeline=shop")
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr[data-status]"))
        statuses = {tr.get_attribute("data-status") for tr in driver.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr[data-status]")}
        check(statuses == {"failed"}, "the status filter shows failed deliveries only")
        driver.save_screenshot(os.path.join(OUTPUT, "03-log.png"))
        driver.find_element(By.CSS_SELECTOR, "#deliveries tbody tr[data-status=failed] a").click()
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#attempts li[data-attempt]"))
        before = len(driver.find_elements(By.CSS_SELECTOR, "#attempts li[data-attempt]"))
        check(before == 2, "a failed delivery shows its two attempts")
        check("503" in driver.find_element(By.ID, "attempts").text, "the attempt timeline shows the response code")
        headers = driver.find_element(By.ID, "headers").text
        check("X-Loyali-Signature" in headers and "masked" in headers and SECRET not in driver.page_source, "headers are shown with the signature masked, never the secret")
        driver.save_screenshot(os.path.join(OUTPUT, "04-delivery.png"))
        driver.find_element(By.ID, "resend").click()
        until.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attempts li[data-attempt]")) > before)
        check(True, "Resend adds a new attempt to the timeline")
        WebDriverWait(driver, 20).until(lambda d: "done" in d.find_element(By.ID, "resend-status").text)
        driver.save_screenshot(os.path.join(OUTPUT, "05-delivery-resent.png"))

        # Test on a sink, from the Routes page.
        driver.get(base + "/#/routes")
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-sink=crm] .test-button"))
        driver.find_element(By.CSS_SELECTOR, "tr[data-sink=crm] .test-button").click()
        until.until(lambda d: "HTTP 200" in d.find_element(By.CSS_SELECTOR, "tr[data-sink=crm] .test-result").text)
        driver.find_element(By.CSS_SELECTOR, "tr[data-sink=partner] .test-button").click()
        until.until(lambda d: "HTTP 503" in d.find_element(By.CSS_SELECTOR, "tr[data-sink=partner] .test-result").text)
        check(True, "Test on a sink shows the answer inline (200 and 503)")
        check("shop.yaml:1" in driver.find_element(By.CSS_SELECTOR, "section.pipeline").text, "the route shows its file and line")
        driver.save_screenshot(os.path.join(OUTPUT, "06-routes.png"))

        # Build a subscription: valid YAML, checked again with `validate`.
        driver.get(base + "/#/new")
        until.until(lambda d: d.find_elements(By.ID, "valid-flag"))
        name = driver.find_element(By.ID, "name")
        name.clear()
        name.send_keys("crm-tiers")
        url = driver.find_element(By.ID, "url")
        url.clear()
        url.send_keys("https://crm.example.com/loyalty")
        driver.find_element(By.CSS_SELECTOR, 'input[name="ev:tier.upgraded"]').click()
        until.until(lambda d: "crm-tiers" in d.find_element(By.ID, "yaml").text and d.find_element(By.ID, "valid-flag").get_attribute("data-ok") == "true")
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".preview-request"))
        preview = driver.find_element(By.CSS_SELECTOR, ".preview-request").text
        check("POST https://crm.example.com/loyalty" in preview and "X-Loyali-Signature" in preview, "the preview shows the signed request")
        yaml_text = driver.find_element(By.ID, "yaml").text
        draft = os.path.join(work, "crm-tiers.yaml")
        with open(draft, "w") as f:
            f.write(yaml_text + "\n")
        validated = subprocess.run([BINARY, "validate", draft], env=dict(environment, WEBHOOK_SECRET=SECRET), capture_output=True, text=True)
        check(validated.returncode == 0, "the YAML the form built passes `validate`: " + validated.stdout + validated.stderr)
        check(not os.path.exists(os.path.join(work, "pipelines", "crm-tiers.yaml")), "nothing was written to the pipelines folder")
        driver.save_screenshot(os.path.join(OUTPUT, "07-new-subscription.png"))
        # A mistake is reported with path:line:col.
        url.clear()
        url.send_keys("ftp://nope")
        until.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#validation .diag.error"))
        diag = driver.find_element(By.CSS_SELECTOR, "#validation .diag.error").text
        check(diag.startswith("pipelines/crm-tiers.yaml:") and diag.split(":")[1].isdigit(), "a bad URL is reported as path:line:col: " + diag)

        # Event data with <script> and <img onerror> shows as text and never runs.
        xss_id = delivery_id(admin, "evt_xss", "crm")
        driver.get(base + "/#/delivery/" + xss_id)
        until.until(lambda d: d.find_elements(By.ID, "envelope"))
        envelope = driver.find_element(By.ID, "envelope").text
        check(XSS.replace('"', '\\"') in envelope or XSS in envelope, "the <script> payload is shown literally")
        check(driver.execute_script("return window.__xss === undefined"), "the payload did not run")
        check(not driver.find_elements(By.CSS_SELECTOR, "#main img, #main script"), "no element was made from event data")
        driver.save_screenshot(os.path.join(OUTPUT, "08-xss-as-text.png"))

        # A POST without the CSRF token is refused, from the logged-in page itself.
        status = driver.execute_script(
            "return await fetch('/api/reload', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)")
        check(status == 403, f"a POST with the session but without X-CSRF-Token is refused ({status})")
        session = "lh_session=" + cookie["value"]
        csrf = driver.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]').get_attribute("content")
        status, _, _ = request(admin, "POST", "/api/reload", b"", {"Cookie": session, "X-CSRF-Token": csrf, "Origin": "https://evil.example"})
        check(status == 403, "a cross-site POST is refused even with the token")
        status, _, _ = request(admin, "GET", "/api/stats", headers={"Cookie": session, "Host": f"evil.example:{admin}"})
        check(status == 403, "a forged Host (DNS rebinding) is refused")
        status, response_headers, _ = request(admin, "GET", "/", headers={"Cookie": session})
        csp = response_headers.get("Content-Security-Policy", "")
        check("script-src 'self'" in csp and "frame-ancestors 'none'" in csp and response_headers.get("X-Frame-Options") == "DENY", "pages carry a strict CSP and no framing")

        # Failed: Retry all shows the count before it re-queues.
        driver.get(base + "/#/failed")
        until.until(lambda d: d.find_elements(By.ID, "retry-all"))
        driver.find_element(By.ID, "retry-all").click()
        until.until(lambda d: d.find_elements(By.ID, "retry-count"))
        count = driver.find_element(By.ID, "retry-count").text
        failed_now = sum(r["failed"] for r in api(admin, "/api/stats?since=24h")["sinks"])
        check(count == str(failed_now), f"Retry all announces {count} deliveries, as many as are failed ({failed_now})")
        driver.save_screenshot(os.path.join(OUTPUT, "09-failed-confirm.png"))
        driver.find_element(By.ID, "retry-confirm").click()
        until.until(lambda d: d.find_elements(By.ID, "retry-result"))
        check(f"Re-queued {failed_now}" in driver.find_element(By.ID, "retry-result").text, "Retry all re-queued them")

        # Keyboard and labels: the skip link comes first, every control has a name.
        driver.get(base + "/#/log")
        driver.refresh()
        until.until(lambda d: d.find_elements(By.ID, "filters"))
        ActionChains(driver).send_keys(Keys.TAB).perform()
        check(driver.switch_to.active_element.text == "Skip to content", "Tab first reaches the skip link")
        ActionChains(driver).send_keys(Keys.TAB).perform()
        check(driver.switch_to.active_element.text == "Overview", "then the navigation")
        unnamed = driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea, button')].filter(e => e.type !== 'hidden').filter(e =>
              !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim()).map(e => e.outerHTML);""")
        check(unnamed == [], "every control has a label: " + repr(unnamed))
        for page in ["overview", "new", "routes", "failed"]:
            driver.get(base + "/#/" + page)
            until.until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
            time.sleep(0.5)
            unnamed = driver.execute_script("""
                return [...document.querySelectorAll('input, select, textarea, button')].filter(e => e.type !== 'hidden').filter(e =>
                  !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim()).length;""")
            check(unnamed == 0, f"every control on {page} has a label")
        logs = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]
        csp_errors = [entry for entry in logs if "Content Security Policy" in entry["message"]]
        check(csp_errors == [], "no Content-Security-Policy violations: " + repr(csp_errors))
        print(f"\n{len(checks)} checks passed; screenshots in {OUTPUT}")
    except Exception:
        if driver is not None:
            driver.save_screenshot(os.path.join(OUTPUT, "failure.png"))
        raise
    finally:
        if driver is not None:
            driver.quit()
        serve.terminate()
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
        receiver.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def request_ok(port, path):
    try:
        return request(port, "GET", path)[0] == 200
    except OSError:
        return False


def post_event(port, event):
    status, _, data = request(port, "POST", "/events", json.dumps(event).encode(),
                              {"Content-Type": "application/json", "Authorization": "Bearer " + INGEST_TOKEN})
    assert status == 202, (status, data)


def settled(admin):
    sinks = api(admin, "/api/stats?since=24h")["sinks"]
    return sinks and all(s["pending"] == 0 and s["in_flight"] == 0 for s in sinks) and sum(s["deliveries"] for s in sinks) == 50


def delivery_id(admin, event_id, sink):
    rows = api(admin, "/api/deliveries?" + urllib.parse.urlencode({"q": event_id, "sink": sink}))["deliveries"]
    assert rows, event_id
    return rows[0]["id"]


if __name__ == "__main__":
    main()
