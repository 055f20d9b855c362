"""The streamed CSV export through a real server (werkzeug in a thread: each request its own application context,
torn down before the rows are streamed), not the test client, which reuses the test's application context.

Found by `benchmarks.grids` (2026-12-03): since a request that only read ends with COMMIT (lecture_seule, issue
20), the logged-in account was expired by that commit and detached by the session's removal before the export's
generator read its role: every CSV export answered 200 and then broke off with DetachedInstanceError."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import re
import urllib.parse
import urllib.request

import pytest


def _session(base: str, login: str, password: str = "Demo-2026!"):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    data = urllib.parse.urlencode({"username": login, "password": password, "csrf_token": token}).encode()
    assert "/admin" in opener.open(f"{base}/login", data=data).geturl()
    return opener


@pytest.mark.parametrize(("login", "grid"), [("comptable", "allocation"), ("conseiller", "beneficiaire")])
def test_the_csv_export_streams_every_row_through_a_real_server(sample, db, live_server, login, grid):
    import sqlalchemy as sa

    from backoffice import models as m
    model = {"allocation": m.Allocation, "beneficiaire": m.Beneficiaire}[grid]
    db.session.commit()  # the server's requests run on their own connections
    opener = _session(live_server, login)
    with opener.open(f"{live_server}/admin/{grid}/export/csv/") as resp:
        assert resp.status == 200
        body = resp.read().decode("utf-8-sig")  # a broken stream ends the body early (IncompleteRead)
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert rows[0][0] == "N°"
    ids = {int(r[0]) for r in rows[1:]}
    compte = db.session.execute(sa.select(m.Compte).where(m.Compte.login == login)).scalar_one()
    expected = sa.select(model.id)
    if login == "conseiller":  # their antenne's rows only (policy.row_scope), read after the teardown too
        expected = expected.where(model.antenne_id == compte.structure_id)
    assert ids
    assert ids == set(db.session.execute(expected).scalars())
