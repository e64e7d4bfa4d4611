#!/usr/bin/python3
"""The web console in a real browser (headless Debian chromium through
chromium-driver and python3-selenium):

  console.py CAIRN_COLLECTOR CAIRN_ESTATE ARTIFACT_DIR

Logs in with a token, opens every page, checks that the map's SVG holds one
node per application of the synthetic estate (ground truth: cairn-estate's
applications shop, crm, billing ... as `apps --json` names them) and one line
per application-level edge of the API, expands an application to its hosts,
hides shared infrastructure, renames an application from its page and sees
the name in `cairn-collector apps`; a task reported with `notify` shows on the
waves and host pages. Screenshots of the overview and the map
go to ARTIFACT_DIR (docs/console.md shows them)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

collector, estate, artifacts = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("python3-selenium is not installed (scripts/deps.sh installs it)", file=sys.stderr)
    sys.exit(77)
chromium = shutil.which("chromium")
driver_bin = shutil.which("chromedriver")
if not chromium or not driver_bin:
    print("chromium or chromium-driver is not installed", file=sys.stderr)
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="cairn-browser.")
state = os.path.join(tmp, "state")
os.makedirs(artifacts, exist_ok=True)
fails = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    fails.append(msg)


def note(msg):
    print("--- " + msg, flush=True)


def cc(*args):
    r = subprocess.run([collector, *args, "--state-dir", state], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"cairn-collector {' '.join(args)}: {r.stderr}")
    return r.stdout


subprocess.run([estate, "--state-dir", state, "--hosts", "40", "--seed", "7", "--write"],
               check=True, capture_output=True)
cc("deps", "--fresh")
operator = cc("token", "create", "alice", "--role", "operator").strip()
apps = json.loads(cc("apps", "--json"))["apps"]
app_level = json.loads(cc("deps", "--level", "app", "--json"))
want_apps = {a["name"] for a in apps}
log = open(os.path.join(tmp, "web.log"), "w+")
web = subprocess.Popen([collector, "web", "--state-dir", state, "-o", "web_listen=127.0.0.1:0"],
                       stderr=log, stdout=subprocess.DEVNULL)
url = None
for _ in range(200):
    log.seek(0)
    m = re.search(r"API on (\S+) ", log.read())
    if m:
        url = m.group(1)
        break
    time.sleep(0.05)
driver = None
try:
    if not url:
        raise SystemExit("web did not start")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--window-size=1400,900", "--user-data-dir=" + os.path.join(tmp, "chrome")):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    wait = WebDriverWait(driver, 30)

    def page_done(name):
        wait.until(lambda d: d.execute_script("return document.body.dataset.page") in (name, "error"))
        if driver.execute_script("return document.body.dataset.page") == "error":
            fail(f"page {name}: " + driver.find_element(By.ID, "page-error").text)
            return False
        return True

    note("the login page, then the overview")
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "login-token").send_keys("cairn_" + "0" * 64)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "login-error").text)
    driver.find_element(By.ID, "login-token").clear()
    driver.find_element(By.ID, "login-token").send_keys(operator)
    driver.find_element(By.ID, "login-submit").click()
    if page_done("overview"):
        cards = driver.find_element(By.ID, "card-apps").text
        if str(sum(1 for a in apps if not a["infrastructure"])) not in cards:
            fail(f"overview's application count: {cards!r}")
        if "alice (operator)" not in driver.find_element(By.ID, "who").text:
            fail("the signed-in user is not shown")
        driver.save_screenshot(os.path.join(artifacts, "console-overview.png"))
    if driver.execute_script("return document.cookie"):
        fail("the console set a cookie")

    note("every page")
    host_id = json.loads(cc("hosts", "--json"))[0]["id"]
    shop = next(a for a in apps if a["name"] == "shop")
    for hash_, name in (("#/apps", "appsPage"), ("#/readiness", "readinessPage"), ("#/sizing", "sizingPage"),
                        ("#/cost", "costPage"), ("#/waves", "wavesPage"), ("#/agents", "agentsPage"),
                        ("#/host/" + host_id, "hostPage"), ("#/app/" + shop["id"], "appPage")):
        driver.get(url + hash_)
        if page_done(name) and not driver.find_elements(By.CSS_SELECTOR, "main table"):
            fail(f"{hash_} shows no table")
        main = driver.find_element(By.TAG_NAME, "main").text
        if name == "wavesPage":
            # the wave rules: score, confidence, reasons, the rules per application
            if not re.search(r"Wave 1 .* score \d+/100, confidence [1-5]/5", main) or "dependency_order" not in main:
                fail("the waves page shows no score, confidence or rules: " + main[:300])
            driver.save_screenshot(os.path.join(artifacts, "console-waves.png"))
        if name == "appPage" and "Why this wave" not in main:
            fail("the application page does not say why it is in its wave")

    note("the migration tools' tasks on the waves and host pages")
    cc("notify", "mgn", "replicate-1", "--status", "FAILED", "--percent", "30", "--resource", host_id)
    driver.get(url + "#/waves")
    if page_done("wavesPage"):
        panel = driver.find_element(By.ID, "progress-tools").text
        host_name = json.loads(cc("host", host_id, "--json"))["hostname"]
        if "mgn" not in panel or host_name not in panel or "FAILED" not in panel:
            fail(f"the waves page's migration tools panel: {panel[:300]!r}")
    driver.get(url + "#/host/" + host_id)
    if page_done("hostPage"):
        line = driver.find_element(By.ID, "host-migration").text
        if "FAILED 30% (from tasks)" not in line or "tasks: FAILED" not in line:
            fail(f"the host page's migration line: {line!r}")

    note("the map at application level")
    driver.get(url + "#/map")
    t0 = time.time()
    if page_done("mapPage"):
        paint = time.time() - t0
        names = set(driver.execute_script(
            "return [...document.querySelectorAll('#map circle.node-app')].map(c => c.dataset.name)"))
        if names != want_apps:
            fail(f"map application nodes {sorted(names)} != apps {sorted(want_apps)}")
        lines = driver.execute_script("return document.querySelectorAll('#map line').length")
        if lines != len(app_level["edges"]):
            fail(f"map has {lines} edges, the API {len(app_level['edges'])}")
        print(f"map painted in {paint:.2f} s: {len(names)} applications, {lines} edges")
        driver.save_screenshot(os.path.join(artifacts, "console-map.png"))

        note("expand shop to its hosts")
        driver.execute_script(
            "document.querySelector('#map circle[data-name=\"shop\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#map circle.node-host"))
        page_done("mapPage")
        hosts = set(driver.execute_script(
            "return [...document.querySelectorAll('#map circle.node-host')].map(c => c.dataset.name)"))
        if not hosts or not all(h.startswith("shop-") for h in hosts) or len(hosts) != len(shop["hosts"]):
            fail(f"expanded shop shows hosts {sorted(hosts)} (wanted its {len(shop['hosts'])} hosts)")
        if driver.find_elements(By.CSS_SELECTOR, '#map circle.node-app[data-name="shop"]'):
            fail("shop is still drawn as one node after expanding")

        note("hide shared infrastructure")
        driver.find_element(By.ID, "collapse").click()
        page_done("mapPage")
        driver.find_element(By.ID, "hide-infra").click()
        page_done("mapPage")
        if not driver.execute_script("return document.getElementById('hide-infra').checked"):
            fail("the hide-infrastructure box is not kept across the redraw")
        shown = set(driver.execute_script(
            "return [...document.querySelectorAll('#map circle.node-app')].map(c => c.dataset.name)"))
        infra = {a["name"] for a in apps if a["infrastructure"]}
        if not infra or shown & infra or shown != want_apps - infra:
            fail(f"hiding infrastructure leaves {sorted(shown & infra)}; shows {len(shown)}")

    note("rename an application from its page")
    driver.get(url + "#/app/" + shop["id"])
    if page_done("appPage"):
        box = driver.find_element(By.ID, "rename-name")
        box.clear()
        box.send_keys("storefront")
        driver.find_element(By.ID, "rename-submit").click()
        wait.until(lambda d: "Application storefront" in d.find_element(By.TAG_NAME, "h1").text)
        if " storefront " not in cc("apps"):
            fail("the rename from the console is not in `cairn-collector apps`")

    note("export html opens from disk without the server")
    page_file = os.path.join(tmp, "plan.html")
    cc("export", "html", "-o", page_file)
    web.terminate()
    web.wait(timeout=20)
    size = os.path.getsize(page_file)
    if size > 5 * 1000 * 1000:
        fail(f"export html of 40 hosts is {size} bytes")
    driver.get("file://" + page_file + "#/map")
    if page_done("mapPage"):
        names = set(driver.execute_script(
            "return [...document.querySelectorAll('#map circle.node-app')].map(c => c.dataset.name)"))
        if names != {a["name"] for a in json.loads(cc("apps", "--json"))["apps"]}:
            fail(f"the exported map shows {sorted(names)}")
        driver.execute_script(
            "document.querySelector('#map circle.node-app').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        page_done("mapPage")
        if not driver.find_elements(By.CSS_SELECTOR, "#map circle.node-host"):
            fail("an application of the exported map does not expand")
    for hash_, name in (("#/overview", "overview"), ("#/cost", "costPage"), ("#/waves", "wavesPage"),
                        ("#/readiness", "readinessPage"), ("#/app/" + shop["id"], "appPage")):
        driver.get("file://" + page_file + hash_)
        page_done(name)
    print(f"export html: {size} bytes")
finally:
    if driver:
        driver.quit()
    web.terminate()
    web.wait(timeout=20)
    shutil.rmtree(tmp, ignore_errors=True)

if fails:
    print(f"{len(fails)} failures", file=sys.stderr)
    sys.exit(1)
print("console: all browser checks passed; screenshots in " + artifacts)
