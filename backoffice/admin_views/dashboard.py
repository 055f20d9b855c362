"""Home page per role (issue 18 §2): the user's own work — to do, waiting on others, late — with amounts, deadlines
(R41) and the age of the oldest item, each a link to the grid filtered on it (admin_views/accueil.py); charts of the
money per programme and month and of the queues (Chart.js, served from static/vendor, this page only), with the
same figures in tables.

A card shows only to a role that may open its grid; its link carries the grid's own status filter
(`flt0_<index>=<status>`, computed from the view's filter list by filters.filter_args), so the grid
opens on the rows counted.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user

from .. import policy
from ..extensions import db
from ..models import Allocation, Cerfa, Compte, DemandeHabilitation, DemandeHorsDelai, MailOutbox, Reversement
from ..models.enums import ROLE_LABELS, Role
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


def _adviser_cards(grid) -> list[dict]:
    """Issue 17 §5, the conseiller's home (their antenne only): enrolments ending this month, PACEA youths
    without an interview for two months (R16), CEJ auto-entrepreneurs to exit (R19), allocations to submit,
    refusals to correct. Each links to its grid filtered on what it counts, where the grid has that filter."""
    from flask_admin.contrib.sqla import filters as sqla_filters

    from .. import clock
    from ..models import Inscription
    from ..workflows import parcours as wf

    today = clock.now().date()
    debut, fin = today.replace(day=1), wf.regles.dernier_du_mois(today)

    def link(endpoint, *filters):
        view = grid(endpoint)
        if view is None:
            return None
        args = {}
        for n, (column, value, *op) in enumerate(filters):
            found = filter_args(view, column, value, *op)
            if not found:
                return url_for(f"{endpoint}.index_view")
            [(key, val)] = found.items()
            args[key.replace("flt0_", f"flt{n}_", 1)] = val
        return url_for(f"{endpoint}.index_view", **args)

    specs = [
        ("Parcours qui se terminent ce mois-ci", Inscription, wf.finissant_ce_mois(today), "inscription",
         [("date_fin_prevue", f"{debut:%Y-%m-%d} to {fin:%Y-%m-%d}", sqla_filters.DateBetweenFilter)]),
        ("PACEA sans entretien depuis 2 mois (R16)", Inscription, wf.pacea_sans_contact(today), "inscription", None),
        ("CEJ : auto-entrepreneurs à sortir (R19)", Inscription, wf.cej_autonomie_a_sortir(), "inscription", None),
    ]  # allocations to submit, refusals to correct: the conseiller's work items (accueil.ROLE_ITEMS)
    cards = []
    for label, model, where, endpoint, filters in specs:
        if not policy.allows(endpoint, "view", current_user):
            continue
        query = sa.select(sa.func.count()).select_from(model).where(where)
        clause = policy.row_scope(model, current_user)
        if clause is not None:
            query = query.where(clause)
        cards.append({"label": label, "value": db.session.execute(query).scalar_one(),
                      "url": link(endpoint, *filters) if filters else None})
    return cards


class DashboardView(AdminIndexView):
    def _grid(self, endpoint):
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == endpoint), None)

    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        from .. import clock
        from . import accueil
        now = clock.now()
        sections = accueil.work_of(current_user.role, self._grid, now)
        cards = []
        if not sections:  # the roles without their own list (partners, UD, Caf): the status counters
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
        if current_user.role == Role.CONSEILLER:  # issue 17 §5: the adviser's enrolments to follow
            extra = [{"key": None, "kind": "a_faire", "label": c["label"], "count": c["value"], "amount": None,
                      "oldest": None, "deadline": None, "url": c["url"]} for c in _adviser_cards(self._grid)]
            if sections and sections[0]["kind"] == "a_faire":
                sections[0]["lignes"] = extra + sections[0]["lignes"]
            else:
                sections.insert(0, {"kind": "a_faire", "title": "À faire", "lignes": extra})
        money = accueil.money_by_programme_and_month(now)
        queues = accueil.queue_health()
        return self.render("admin/dashboard.html", cards=cards, sections=sections, money=money, queues=queues,
                           charts=_chart_data(money, queues),
                           role_label=ROLE_LABELS.get(current_user.role, current_user.role))


def _chart_data(money, queues) -> dict:
    """What static/accueil.js draws (numbers as strings of euros: no float in the page's data)."""
    out = {}
    if money and money["rows"]:
        out["mois"] = {"labels": money["labels"],
                       "series": {k: [str(money["by_month"][mo][k]) for mo in money["months"]]
                                  for k in ("paye", "du", "recouvre")}}
        out["programmes"] = {"labels": money["programmes"],
                             "series": {k: [str(money["by_programme"][p][k]) for p in money["programmes"]]
                                        for k in ("paye", "du", "recouvre")}}
    if queues and queues["queues"]:
        out["files"] = {"labels": [q["label"] for q in queues["queues"]],
                        "series": {k: [q[k] for q in queues["queues"]] for k in ("attente", "en_cours", "echec")}}
    return out
