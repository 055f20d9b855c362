"""Page weight of a grid page, as headless Chromium receives it over loopback (issue 19 §5).

    python -m benchmarks.page_weight [--url /admin/allocation/] [--user comptable]

Uses its own PostgreSQL database (DATABASE_URL, default backoffice_pageweight on the local server, created if
absent), loads the demo data, serves the app with werkzeug in a thread and drives Chromium through Playwright:
  - first load: a fresh browser context (empty cache) holding only the session cookie opens the grid page;
  - repeat navigation: the same context opens it again (a click in the menu would do the same).
Bytes on the wire are Chromium's own count (CDP Network.loadingFinished encodedDataLength: headers and the
compressed body); a request answered from the browser cache counts for nothing. Targets: first load ≤ 150 KiB,
repeat ≤ 3 requests and ≤ 40 KiB. Prints a table, then a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import threading

from benchmarks.bulk import make_app, reset_schema

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/backoffice_pageweight"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Demo-2026!"
TARGET_FIRST_KIB, TARGET_REPEAT_KIB, TARGET_REPEAT_REQUESTS = 150, 40, 3


def _serve(app):
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _measure(page, cdp, url: str) -> dict:
    """One navigation: per request, bytes on the wire (0 when served from the browser cache)."""
    requests: dict[str, dict] = {}

    def sent(e):
        requests.setdefault(e["requestId"], {"url": e["request"]["url"], "bytes": 0, "cache": False})

    def cached(e):
        if e["requestId"] in requests:
            requests[e["requestId"]]["cache"] = True

    def received(e):
        r = requests.get(e["requestId"])
        if r is not None:
            resp = e["response"]
            r["status"] = resp.get("status")
            r["encoding"] = {k.lower(): v for k, v in resp.get("headers", {}).items()}.get("content-encoding", "")
            r["cache"] = r["cache"] or resp.get("fromDiskCache") or resp.get("fromMemoryCache") or False

    def finished(e):
        r = requests.get(e["requestId"])
        if r is not None:
            r["bytes"] = int(e.get("encodedDataLength") or 0)

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.requestServedFromCache", cached)
    cdp.on("Network.responseReceived", received)
    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    for event, handler in (("Network.requestWillBeSent", sent), ("Network.requestServedFromCache", cached),
                           ("Network.responseReceived", received), ("Network.loadingFinished", finished)):
        cdp.remove_listener(event, handler)
    on_wire = [r for r in requests.values() if not r["cache"] and r["bytes"] > 0]
    return {"requests": len(on_wire), "bytes": sum(r["bytes"] for r in on_wire),
            "cached": sum(1 for r in requests.values() if r["cache"] or r["bytes"] == 0),
            "detail": sorted(({"url": r["url"].split("://", 1)[-1].split("/", 1)[-1][:70], "bytes": r["bytes"],
                               "status": r.get("status"), "gzip": r.get("encoding") == "gzip"} for r in on_wire),
                             key=lambda d: -d["bytes"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="/admin/allocation/", help="the grid page measured")
    parser.add_argument("--user", default="comptable")
    parser.add_argument("--keep", action="store_true", help="reuse the database if the demo is already loaded")
    args = parser.parse_args()

    app = make_app(os.environ.get("DATABASE_URL", DEFAULT_URL))
    from backoffice.extensions import db
    from seeds import demo_already_loaded, load_demo
    with app.app_context():
        if not (args.keep and demo_already_loaded(db.session)):
            reset_schema(db)
            load_demo(db.session, seed=2026)
            db.session.commit()
    server = _serve(app)
    base = f"http://127.0.0.1:{server.server_port}"

    from playwright.sync_api import sync_playwright
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            login = browser.new_context(locale="fr-FR")
            page = login.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=username]", args.user)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/admin/**")
            state = login.storage_state()
            login.close()

            context = browser.new_context(locale="fr-FR", storage_state=state)  # cold cache, logged in
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            first = _measure(page, cdp, base + args.url)
            repeat = _measure(page, cdp, base + args.url)
            context.close()
            browser.close()
    finally:
        server.shutdown()

    kib = lambda n: n / 1024  # noqa: E731
    print(f"Page mesurée : {args.url} ({args.user}), Chromium sur la boucle locale")
    print(f"{'chargement':<22}{'requêtes':>10}{'KiB transférés':>16}{'cible':>22}")
    print(f"{'premier (cache vide)':<22}{first['requests']:>10}{kib(first['bytes']):>16.1f}"
          f"{f'≤ {TARGET_FIRST_KIB} KiB':>22}")
    print(f"{'navigation répétée':<22}{repeat['requests']:>10}{kib(repeat['bytes']):>16.1f}"
          f"{f'≤ {TARGET_REPEAT_REQUESTS} req., ≤ {TARGET_REPEAT_KIB} KiB':>22}")
    print("\nPremier chargement, par fichier :")
    for d in first["detail"]:
        print(f"  {kib(d['bytes']):7.1f} KiB  {'gzip' if d['gzip'] else '    '}  {d['status']}  /{d['url']}")
    ok = (first["bytes"] <= TARGET_FIRST_KIB * 1024 and repeat["requests"] <= TARGET_REPEAT_REQUESTS
          and repeat["bytes"] <= TARGET_REPEAT_KIB * 1024)
    print(json.dumps({"url": args.url, "first_requests": first["requests"],
                      "first_kib": round(kib(first["bytes"]), 1), "repeat_requests": repeat["requests"],
                      "repeat_kib": round(kib(repeat["bytes"]), 1), "repeat_cached": repeat["cached"],
                      "targets_met": ok}))


if __name__ == "__main__":
    main()
