"""Page weight (issue 19 §5): static URLs carry a content hash and are cached for a year, responses are gzipped.

- every `url_for('static' | '<blueprint>.static', filename=…)` (ours and Flask-Admin's, whose `v='4.6.2'` it
  replaces) gets `?v=<sha256[:12]>` of the file: a new file is a new URL, so the old one may be cached forever;
- a static response whose `v` is the file's hash answers `Cache-Control: public, max-age=31536000, immutable`
  (the browser does not even revalidate it); without it, or with a stale one, Flask's revalidation stays;
- HTML, CSS, JS, JSON, SVG and text responses are gzipped when the browser accepts it (streamed responses such as
  the CSV export are left alone: they are written as they are read). Headers set elsewhere (CSP…) are kept.
"""

from __future__ import annotations

import gzip
import hashlib
import os

from flask import current_app, request

UN_AN = 31_536_000
CACHE_IMMUABLE = f"public, max-age={UN_AN}, immutable"
COMPRESSIBLES = {"text/html", "text/css", "text/plain", "text/csv", "application/javascript", "text/javascript",
                 "application/json", "image/svg+xml", "application/xml", "text/xml"}
TAILLE_MIN = 500  # below this gzip's header costs more than it saves

_empreintes: dict[tuple[str, float, int], str] = {}
_compresses: dict[tuple[str, float, int], bytes] = {}


def _dossier_statique(endpoint: str) -> str | None:
    if endpoint == "static":
        return current_app.static_folder
    blueprint = current_app.blueprints.get(endpoint.rsplit(".", 1)[0])
    return blueprint.static_folder if blueprint is not None else None


_chemins: dict[tuple[str, str], str | None] = {}


def _fichier(endpoint: str, filename: str | None) -> tuple[str, os.stat_result] | None:
    folder = _dossier_statique(endpoint)
    if not folder or not filename:
        return None
    key = (folder, filename)
    if key not in _chemins:  # realpath walks every component (issue 20: ≈ 0,2 ms per static URL of a page)
        path = os.path.realpath(os.path.join(folder, filename))
        _chemins[key] = path if path.startswith(os.path.realpath(folder) + os.sep) else None
    path = _chemins[key]
    if path is None:
        return None
    try:
        return path, os.stat(path)
    except OSError:
        return None


def empreinte(endpoint: str, filename: str | None) -> str | None:
    """sha256[:12] of a static file (memoised per path, mtime and size: an edited file gets a new hash)."""
    found = _fichier(endpoint, filename)
    if found is None:
        return None
    path, st = found
    key = (path, st.st_mtime, st.st_size)
    if key not in _empreintes:
        with open(path, "rb") as fh:
            _empreintes[key] = hashlib.sha256(fh.read()).hexdigest()[:12]
    return _empreintes[key]


def _est_statique(endpoint: str | None) -> bool:
    return bool(endpoint) and (endpoint == "static" or endpoint.endswith(".static"))


def _versionner(endpoint: str, values: dict) -> None:
    """url_defaults: the content hash as `v` on every static URL (Flask-Admin's own version number replaced)."""
    if _est_statique(endpoint):
        version = empreinte(endpoint, values.get("filename"))
        if version:
            values["v"] = version


def _cache_statique(response):
    endpoint = request.endpoint
    if _est_statique(endpoint) and response.status_code in (200, 304):
        version = request.args.get("v")
        if version and version == empreinte(endpoint, (request.view_args or {}).get("filename")):
            response.headers["Cache-Control"] = CACHE_IMMUABLE
            response.expires = None
    return response


def _accepte_gzip() -> bool:
    for item in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _compresser(response):
    if response.status_code < 200 or response.status_code in (204, 206, 304) or request.method == "HEAD":
        return response
    if response.mimetype not in COMPRESSIBLES or "Content-Encoding" in response.headers:
        return response
    response.vary.add("Accept-Encoding")
    if not _accepte_gzip():
        return response
    statique = _est_statique(request.endpoint)
    if response.is_streamed and not statique:
        return response  # a streamed export is sent as it is produced
    key = None
    if statique and response.direct_passthrough:
        found = _fichier(request.endpoint, (request.view_args or {}).get("filename"))
        if found is not None:
            key = (found[0], found[1].st_mtime, found[1].st_size)
        response.direct_passthrough = False
    if key is not None and key in _compresses:
        body = _compresses[key]
    else:
        data = response.get_data()
        if len(data) < TAILLE_MIN:
            return response
        body = gzip.compress(data, compresslevel=6, mtime=0)
        if key is not None:
            _compresses[key] = body
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.headers.pop("Accept-Ranges", None)
    return response


def init_app(app) -> None:
    app.url_defaults(_versionner)
    # after_request functions run last-registered first: compression must see the final body, so it is
    # registered first (runs last); the cache header after the security headers (which skip static endpoints).
    app.after_request_funcs.setdefault(None, []).insert(0, _compresser)
    app.after_request(_cache_statique)
