"""The monthly run of a programme (NACRE R51, Adultes-relais R52), issue 16: « Paie mensuelle » on the grid of the
agreements applies to every row the list's filters match: the month is chosen first, then the dry run shows what
would be paid (rows, refusals with their reason, amount), then the confirmation runs on exactly the previewed rows
(inline, or as a job with its progress page above BULK_INLINE_THRESHOLD). The payables go into the programme's SEPA
batch; a replay changes nothing (the month is paid)."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from .. import clock
from ..extensions import db
from ..i18n import format_montant
from ..models import BulkRun
from ..models.enums import BulkRunStatut
from ..workflows import Selection, run
from ..workflows.bulk import schedule
from ..workflows.errors import WorkflowError
from ..workflows.paie_programmes import choix_mois, parse_mois

TRANSITION = "payer_mois"


class PaieMensuelleMixin:
    """Mixed into a WorkflowModelView whose workflow has the `payer_mois` transition."""

    programme = ""  # the programme's code on the payables' grid (NACRE, AR)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # WorkflowModelView's list template comes first in the MRO: an instance attribute wins
        self.list_template = "admin/paie_list.html"

    def montants_paie(self, session, ids, mois) -> dict[int, Decimal]:  # pragma: no cover - per programme
        raise NotImplementedError

    def paie_offerte(self) -> bool:
        t = self.workflow.transitions.get(TRANSITION) if self.workflow else None
        return bool(t and current_user.is_authenticated and current_user.role in t.roles and self._allowed("actions"))

    def _paie_transition(self):
        if not self.paie_offerte():
            abort(403)
        return self.workflow.transition(TRANSITION)

    @expose("/paie-mensuelle/", methods=["GET", "POST"])
    def paie_mensuelle(self):
        t = self._paie_transition()
        args = self._get_list_extra_args()
        _, query = self.get_list(None, None, False, args.search, args.filters, execute=False, page_size=0)
        ids_query = query.with_entities(self.model.id).order_by(None)
        if request.method == "POST":
            mois = parse_mois(request.form.get("mois"))
            if mois is None or mois.isoformat() not in {v for v, _ in choix_mois()}:
                flash("Choisissez le mois à payer dans la liste.", "error")
            else:
                ids = sorted(r[0] for r in ids_query.all())
                if not ids:
                    flash("Aucune ligne ne correspond aux filtres.", "warning")
                    return redirect(self.get_url(".index_view", **request.args))
                run_row = BulkRun(workflow=self.workflow.name, transition=t.name, actor_id=current_user.id, ids=ids,
                                  total=len(ids), statut=BulkRunStatut.APERCU, refus={},
                                  params={"mois_paye": mois.isoformat()},
                                  description=f"{t.label} de {mois:%m/%Y} — toutes les lignes filtrées ({self.name})")
                db.session.add(run_row)
                db.session.commit()
                return redirect(self.get_url(".paie_apercu", run_id=run_row.id))
        n = ids_query.count()
        return self.render("admin/paie_mensuelle.html", transition=t, mois=choix_mois(), nombre=n, run=None,
                           report=None, montant=None, list_url=self.get_url(".index_view", **request.args),
                           format_montant=format_montant)

    @expose("/paie-mensuelle/<int:run_id>", methods=["GET", "POST"])
    def paie_apercu(self, run_id):
        t = self._paie_transition()
        run_row = db.session.get(BulkRun, run_id)
        # a run the scheduler prepared (jobs/paie_programmes.py) waits for any payment officer: the one who
        # confirms it becomes its actor
        programmee = run_row is not None and (run_row.params or {}).get("programmee") is True
        if (run_row is None or run_row.workflow != self.workflow.name or run_row.transition != t.name
                or (run_row.actor_id != current_user.id and not programmee)):
            abort(404)
        params = {"mois_paye": (run_row.params or {}).get("mois_paye")}
        mois = parse_mois(params["mois_paye"])
        selection = Selection.of_ids(run_row.ids)
        if request.method == "POST" and run_row.statut == BulkRunStatut.APERCU:
            if programmee:
                run_row.actor_id = current_user.id
            try:
                if run_row.total <= current_app.config.get("BULK_INLINE_THRESHOLD", 2000):
                    report = run(db.session, self.workflow, t.name, selection, current_user, params=params,
                                 now=clock.now(), bulk_run_id=run_row.id)
                    run_row.statut, run_row.traites, run_row.modifies = BulkRunStatut.TERMINE, run_row.total, report.changed
                    run_row.refus, run_row.params, run_row.termine_at = dict(report.refused), params, clock.now()
                    db.session.commit()
                    flash(report.message(), "success" if report.changed else "warning")
                else:
                    schedule(db.session, self.workflow, t.name, list(run_row.ids), current_user, params=params,
                             now=clock.now(), run=run_row)
                    db.session.commit()
                    flash(f"Paie de {run_row.total} lignes lancée en arrière-plan.", "info")
            except WorkflowError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            return redirect(self.get_url(".paie_apercu", run_id=run_row.id))
        report = montant = None
        if run_row.statut == BulkRunStatut.APERCU:
            try:
                report = run(db.session, self.workflow, t.name, selection, current_user, dry_run=True,
                             now=clock.now(), params=params)
                montant = sum(self.montants_paie(db.session, report.eligible_ids, mois).values(), Decimal("0.00"))
            except WorkflowError as exc:
                flash(str(exc), "error")
                return redirect(self.get_url(".index_view"))
            finally:
                db.session.rollback()
        echeances_url = url_for("echeance.index_view") if mois else None
        return self.render("admin/paie_mensuelle.html", transition=t, mois=None, nombre=run_row.total, run=run_row,
                           report=report, montant=montant, periode=mois, programme=self.programme,
                           echeances_url=echeances_url, list_url=self.get_url(".index_view"),
                           format_montant=format_montant)
