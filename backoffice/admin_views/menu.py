"""The main menu, rendered once per (role, current view) and reused (issue 6).

Flask-Admin renders the menu on every page: for each of our forty-odd views an access check and a
url_for, about 5 ms a page, a quarter of a detail page. What it shows depends only on the user's role
(the policy table is static), the view being shown (the active entry) and the URL root, so the HTML
is kept per such key. The cache is bounded by roles × views.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

_CACHE: dict[tuple, str] = {}


def menu_en_cache(admin_view, render):
    """`render()` (the layout.menu macro) the first time for this key, the stored HTML afterwards."""
    role = getattr(current_user, "role", None) if current_user.is_authenticated else None
    key = (getattr(role, "value", role), getattr(admin_view, "endpoint", None), request.script_root)
    html = _CACHE.get(key)
    if html is None:
        html = render()
        _CACHE[key] = html
    return html


def install(app) -> None:
    app.add_template_global(menu_en_cache, "menu_en_cache")
