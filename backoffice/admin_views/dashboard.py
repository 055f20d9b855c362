"""Home page: a few figures per role, each a link to the grid filtered on it.

A card shows only to a role that may open its grid; its link carries the grid's own status filter
(`flt0_<index>=<status>`, computed from the view's filter list by filters.filter_args), so the grid
opens on exactly the rows counted.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user

from .. import policy
from ..extensions import db
from ..models import Allocation, Cerfa, Compte, DemandeHabilitation, DemandeHorsDelai, MailOutbox, Reversement
from ..models.enums import ROLE_LABELS
from .filters import filter_args

CARDS = [
    # (label, model, status, endpoint)
    ("Cerfa reçus à valider", Cerfa, "signe_recu", "cerfa"),
    ("Allocations soumises à valider", Allocation, "soumise", "allocation"),
    ("Allocations validées à envoyer", Allocation, "validee_siege", "allocation"),
    ("Demandes hors délai en attente", DemandeHorsDelai, "en_attente", "demande_hors_delai"),
    ("Reversements émis", Reversement, "emis", "reversement"),
    ("Comptes verrouillés", Compte, "verrouille", "compte"),
    ("Mails en échec", MailOutbox, "echec", "mail_outbox"),
    ("Demandes d'habilitation en attente", DemandeHabilitation, "demandee", "demande_habilitation"),  # R64
]


class DashboardView(AdminIndexView):
    def _grid(self, endpoint):
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == endpoint), None)

    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        cards = []
        for label, model, statut, endpoint in CARDS:
            if not policy.allows(endpoint, "view", current_user):
                continue
            query = sa.select(sa.func.count()).select_from(model).where(model.statut == statut)
            clause = policy.row_scope(model, current_user)
            if clause is not None:
                query = query.where(clause)
            value = db.session.execute(query).scalar_one()
            view = self._grid(endpoint)
            args = filter_args(view, "statut", statut) if view is not None else {}
            cards.append({"label": label, "value": value,
                          "url": url_for(f"{endpoint}.index_view", **args) if args else None})
        return self.render("admin/dashboard.html", cards=cards,
                           role_label=ROLE_LABELS.get(current_user.role, current_user.role))
