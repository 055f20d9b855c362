"""Pages that are not a model's grid (queues, bank returns, pilotage): one access rule for all.

A page names its `policy_endpoint`; `policy.allows(endpoint, "view", user)` decides. A logged-in user without the
right gets a 403, an anonymous visitor goes to the login page and comes back (same rule as the grids' views)."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_admin import BaseView
from flask_login import current_user

from .. import policy


class PolicyPageView(BaseView):
    policy_endpoint: str = ""

    def is_accessible(self):
        return policy.allows(self.policy_endpoint, "view", current_user)

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            abort(403)
        return redirect(url_for("auth.login", next=request.full_path))
