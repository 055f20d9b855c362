"""Page weight and caching (issue 19 §5): gzip on HTML, CSS and JS; each static file linked once; static URLs
with a content hash, cached a year (`immutable`) when the hash is right; the security headers kept."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import flask_admin

import backoffice

GZ = {"Accept-Encoding": "gzip, deflate, br"}
LIEN = re.compile(r'(?:href|src)="(/(?:admin/)?static/[^"?]+)(?:\?v=([^"&]*))?"')
DOSSIERS = {"/static/": Path(backoffice.__file__).parent / "static",
            "/admin/static/": Path(flask_admin.__file__).parent / "static"}


def _fichier(url: str) -> Path:
    prefixe = "/admin/static/" if url.startswith("/admin/static/") else "/static/"
    return DOSSIERS[prefixe] / url[len(prefixe):]


def _texte(resp) -> str:
    data = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data.decode()


def test_a_grid_page_is_gzipped_and_keeps_its_security_headers(sample, clients):
    resp = clients["comptable"].get("/admin/allocation/", headers=GZ)
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in resp.headers.get("Vary", "")
    assert int(resp.headers["Content-Length"]) == len(resp.get_data())
    assert "script-src-elem 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Cache-Control"] == "no-store"
    html = gzip.decompress(resp.get_data()).decode()
    assert 'id="compte-grille"' in html or "<table" in html
    # a browser that does not ask for gzip gets the plain page
    plain = clients["comptable"].get("/admin/allocation/")
    assert "Content-Encoding" not in plain.headers and "<table" in plain.get_data(as_text=True)


def test_the_login_page_is_gzipped_too(client, ref):
    resp = client.get("/login", headers=GZ)
    assert resp.headers["Content-Encoding"] == "gzip" and "Content-Security-Policy" in resp.headers


def test_each_static_file_is_linked_once_with_its_content_hash(sample, clients):
    c = clients["comptable"]
    for url in ("/admin/allocation/", f"/admin/allocation/details/?id={sample.nord('allocation')}", "/admin/"):
        html = _texte(c.get(url, headers=GZ))
        liens = LIEN.findall(html)
        assert liens, url
        chemins = [p for p, _v in liens]
        assert len(chemins) == len(set(chemins)), (url, sorted(p for p in chemins if chemins.count(p) > 1))
        assert sum("bootstrap.min.css" in p for p in chemins) == 1, url
        assert sum(p.endswith("backoffice.css") for p in chemins) == 1, url
        for chemin, version in liens:
            assert version == hashlib.sha256(_fichier(chemin).read_bytes()).hexdigest()[:12], (url, chemin)


def test_a_hashed_static_url_is_cached_a_year_and_gzipped(sample, clients):
    html = _texte(clients["comptable"].get("/admin/allocation/", headers=GZ))
    css = next(f"{p}?v={v}" for p, v in LIEN.findall(html) if p.endswith("bootstrap.min.css"))
    js = next(f"{p}?v={v}" for p, v in LIEN.findall(html) if p.endswith("jquery.min.js"))
    for url in (css, js, next(f"{p}?v={v}" for p, v in LIEN.findall(html) if p.endswith("backoffice.css"))):
        resp = clients["comptable"].get(url, headers=GZ)
        assert resp.status_code == 200, url
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert resp.headers["Content-Encoding"] == "gzip", url
        assert "Accept-Ranges" not in resp.headers
        assert gzip.decompress(resp.get_data()) == _fichier(url.split("?")[0]).read_bytes(), url
        assert "Content-Security-Policy" in resp.headers and resp.headers["X-Content-Type-Options"] == "nosniff"
    resp = clients["comptable"].get(css, headers=GZ)
    assert len(resp.get_data()) < 40_000  # 160 KB of bootstrap.min.css on the wire as about 25 KB


def test_a_static_url_without_the_right_hash_is_revalidated_not_cached_forever(client, ref):
    for url in ("/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css",
                "/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css?v=4.6.2",
                "/static/backoffice.css?v=000000000000"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "immutable" not in resp.headers.get("Cache-Control", ""), url


def test_the_public_login_page_links_hashed_static_files(client, ref):
    html = _texte(client.get("/login", headers=GZ))
    liens = LIEN.findall(html)
    assert liens and all(len(v) == 12 for _p, v in liens)


def test_a_streamed_csv_export_is_not_buffered_for_compression(sample, clients):
    resp = clients["comptable"].get("/admin/allocation/export/csv/", headers=GZ)
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert resp.get_data().startswith(b"\xef\xbb\xbf")


def test_every_icon_a_template_uses_is_in_the_cut_down_font(client, ref):
    """backoffice/static/fa holds Font Awesome cut down to the icons we show: an icon added to a template (ours or
    Flask-Admin's) without rerunning scripts/icones_fontawesome.py would show as an empty square."""
    import importlib.util
    chemin = Path(backoffice.__file__).parents[1] / "scripts" / "icones_fontawesome.py"
    spec = importlib.util.spec_from_file_location("icones_fontawesome", chemin)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    css = (DOSSIERS["/static/"] / "fa" / "font-awesome.css").read_text()
    original = (DOSSIERS["/admin/static/"] / "bootstrap" / "bootstrap4" / "css" / "font-awesome.min.css").read_text()
    glyphes = {n for n in module.icones_utilisees() if f".fa-{n}:before" in original}
    assert glyphes and all(f".fa-{n}:before" in css for n in glyphes), sorted(n for n in glyphes
                                                                             if f".fa-{n}:before" not in css)
    police = re.search(r"url\('(fontawesome-subset\.woff2)\?v=([0-9a-f]{12})'\)", css)
    fichier = DOSSIERS["/static/"] / "fa" / police.group(1)
    assert police.group(2) == hashlib.sha256(fichier.read_bytes()).hexdigest()[:12]
    assert fichier.stat().st_size < 10_000
    resp = client.get(f"/static/fa/{police.group(1)}?v={police.group(2)}")
    assert resp.status_code == 200 and "immutable" in resp.headers["Cache-Control"]
