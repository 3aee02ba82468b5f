#!/usr/bin/env python3
"""Open a local HTML page in headless Chromium and report what went wrong in it, as JSON on stdout.

    browser.py PAGE.html [--eval EXPR ...] [--wait-for EXPR] [--wait-ms N] [--timeout S] [--offline]
               [--fail-on-errors]

--eval EXPR       a JavaScript expression evaluated once the page is ready; repeatable. Its value goes
                  in report["eval"][EXPR] ({"error": message} if it throws).
--wait-for EXPR   wait (up to --timeout seconds, default 30) until EXPR is truthy before evaluating.
--wait-ms N       settle time after loading, in milliseconds (default 500).
--offline         block every http, https, ws and wss request inside the browser, so a page that
                  needs the network shows it at once as failed requests.
--fail-on-errors  exit 1 when there was a SEVERE console message, an uncaught error or rejection, or a
                  failed request.
Report keys: url, title, console [{level, message}], errors, failed_requests, eval, and
wait_for_timed_out / browser_error when those happened.
Exit status: 0 fine; 1 errors (with --fail-on-errors) or the browser failed; 2 bad arguments.
Needs selenium (pip) and Chromium with its driver (Debian: chromium chromium-driver); the CHROMIUM and
CHROMEDRIVER environment variables choose other binaries. The browser gets a throw-away profile.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Installed before any of the page's own scripts run: uncaught errors and rejections are kept.
RECORD_ERRORS = """
window.__pageErrors = [];
window.addEventListener('error', function (e) {
  window.__pageErrors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || e));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__pageErrors.push('unhandled rejection: ' + String(e.reason));
});
"""
BLOCKED = ["http://*", "https://*", "ws://*", "wss://*"]


def binary(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    return next((found for found in map(shutil.which, names) if found), None)


def failed_requests(performance_log: list[dict]) -> list[dict]:
    """Requests that failed or were blocked, from Chromium's DevTools performance log."""
    urls, browser_own, failed = {}, set(), []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls[params.get("requestId")] = params.get("request", {}).get("url")
            if str(params.get("documentURL", "")).startswith("chrome://"):
                browser_own.add(params.get("requestId"))  # the browser's own pages (new tab), not ours
        elif params.get("requestId") in browser_own:
            continue
        elif message.get("method") == "Network.loadingFailed":
            failed.append({"url": urls.get(params.get("requestId")), "error": params.get("errorText"),
                           "blocked": params.get("blockedReason")})
        elif message.get("method") == "Network.responseReceived":
            status = params.get("response", {}).get("status", 0)
            if status >= 400:
                failed.append({"url": params["response"].get("url"), "error": f"HTTP {status}", "blocked": None})
    return failed


def browse(a, chromium: str, chromedriver: str, profile: str) -> dict:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    url = Path(a.page).resolve().as_uri()
    report: dict = {"url": url, "title": None, "console": [], "errors": [], "failed_requests": [], "eval": {}}
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        driver.set_page_load_timeout(a.timeout)
        driver.set_script_timeout(a.timeout)
        driver.execute_cdp_cmd("Network.enable", {})
        if a.offline:
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": BLOCKED})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ERRORS})
        # Newer Chromium loads its new-tab page at start-up and logs that page's failed lookups: drop
        # everything logged before our page is opened, so only the page under test is judged.
        driver.get_log("performance")
        driver.get(url)
        time.sleep(a.wait_ms / 1000)
        if a.wait_for:
            deadline = time.monotonic() + a.timeout
            while True:
                try:
                    if driver.execute_script(f"return !!({a.wait_for});"):
                        break
                except WebDriverException:
                    pass  # not defined yet
                if time.monotonic() > deadline:
                    report["wait_for_timed_out"] = a.wait_for
                    break
                time.sleep(0.2)
        report["title"] = driver.title
        for expr in a.eval:
            try:
                report["eval"][expr] = driver.execute_script(f"return ({expr});")
            except WebDriverException as e:
                report["eval"][expr] = {"error": (e.msg or str(e)).splitlines()[0]}
        report["errors"] = driver.execute_script("return window.__pageErrors || [];")
        report["console"] = [{"level": e["level"], "message": e["message"]} for e in driver.get_log("browser")]
        report["failed_requests"] = failed_requests(driver.get_log("performance"))
    finally:
        driver.quit()
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="browser.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--eval", action="append", default=[], metavar="EXPR")
    ap.add_argument("--wait-for", metavar="EXPR")
    ap.add_argument("--wait-ms", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--offline", action="store_true")
    ap.add_argument("--fail-on-errors", action="store_true")
    a = ap.parse_args(argv)
    if not Path(a.page).is_file():
        ap.error(f"{a.page}: no such file")
    chromium = binary("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    chromedriver = binary("CHROMEDRIVER", "chromedriver")
    if not (chromium and chromedriver):
        print("browser.py: Chromium and chromedriver are needed (apt-get install chromium chromium-driver)",
              file=sys.stderr)
        return 1
    profile = tempfile.mkdtemp(prefix="browser-profile.")
    try:
        report = browse(a, chromium, chromedriver, profile)
    except Exception as e:  # the browser or driver failed: still one JSON report
        report = {"url": Path(a.page).resolve().as_uri(), "browser_error": getattr(e, "msg", None) or str(e)}
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if "browser_error" in report:
        return 1
    bad = ([c for c in report["console"] if c["level"] == "SEVERE"] + report["errors"]
           + report["failed_requests"])
    return 1 if a.fail_on_errors and (bad or "wait_for_timed_out" in report) else 0


if __name__ == "__main__":
    sys.exit(main())
