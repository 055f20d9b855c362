"""WorkflowModelView: every transition of the view's workflow as a row button and a bulk action.

Scopes: "les lignes cochées" (Flask-Admin's action menu) or "les N lignes qui correspondent aux
filtres" (the list's own filters, search and role scope, across all pages). A bulk request always
freezes its ids into a BulkRun first and shows the dry run; confirming runs on exactly those ids,
inline below BULK_INLINE_THRESHOLD, as an RQ job with a progress page above it.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup

from .. import clock, security
from ..extensions import db
from ..forms.actions import form_for
from ..i18n import format_montant
from ..models import BulkRun
from ..models.enums import BulkRunStatut
from ..workflows import Selection, run
from ..workflows.audit import jsonable
from ..workflows.bulk import amounts_by_programme, batches_of_run, moved_ids, planned_batches, schedule
from ..workflows.errors import WorkflowError
from .base import SecureModelView
from .grille import parse_id


def _report_message(report) -> str:
    return report.message()


class WorkflowModelView(SecureModelView):
    workflow = None  # a backoffice.workflows.engine.Workflow
    list_template = "admin/workflow_list.html"

    # ---- what the current user may run ------------------------------------------------------
    def offered_transitions(self):
        if self.workflow is None or not current_user.is_authenticated or not self._allowed("actions"):
            return []
        return self.workflow.offered(current_user.role)

    def init_actions(self):
        super().init_actions()
        if self.workflow is None:
            return
        for t in self.workflow.transitions.values():
            if t.system:
                continue
            name = f"wf_{t.name}"
            self._actions.append((name, t.label))
            self._actions_data[name] = (self._make_bulk_handler(t.name), t.label, None)

    def is_action_allowed(self, name):
        if name.startswith("wf_"):
            t = self.workflow.transitions.get(name[3:])
            return t is not None and t in self.offered_transitions()
        return super().is_action_allowed(name)

    def _make_bulk_handler(self, transition_name):
        def handler(ids):
            # Flask-Admin's action form carries the list's URL (filters, page, sort) in « url »
            return self._preview(transition_name, Selection.of_ids(ids), "les lignes cochées",
                                 retour=request.form.get("url"))
        return handler

    def _retour(self, target: str | None = None) -> str:
        """« Retour à la liste » with the filters the user had (issue 18): a local path of this back-office, else
        the bare list."""
        default = self.get_url(".index_view")
        target = security.safe_next(target if target is not None else request.args.get("retour"), default)
        return target if target.startswith(self.admin.url + "/") else default

    def filtered_url(self, column: str, value: str) -> str:
        """The list URL with Flask-Admin's own "equals" filter on `column` (as the filter UI builds it)."""
        for idx, flt in enumerate(self._filters or []):
            col = getattr(flt, "column", None)
            name = type(flt).__name__
            if getattr(col, "key", None) == column and "Equal" in name and "Not" not in name:
                return url_for(f"{self.endpoint}.index_view", **{f"flt0_{self.get_filter_arg(idx, flt)}": value})
        raise LookupError(f"pas de filtre « égal à » sur {column}")

    # ---- row buttons ----------------------------------------------------------------------------
    def row_buttons(self, model) -> Markup:
        out = []
        for t in self.workflow.available(model.statut, current_user.role) if self._allowed("actions") else []:
            if not t.row_button:
                continue
            url = self.get_url(".workflow_row", transition=t.name)
            out.append(Markup(
                '<form method="post" action="{url}"><input type="hidden" name="csrf_token" value="{csrf}">'
                '<input type="hidden" name="id" value="{id}"><input type="hidden" name="version" value="{v}">'
                '<button type="submit" class="btn btn-outline-{style} btn-sm" data-transition="{name}">'
                '{label}</button></form>').format(url=url, csrf=_csrf(), id=model.id, v=getattr(model, "version", 0),
                                                  style=t.style, name=t.name,
                                                  label=t.label + ("…" if t.params or t.reauth else "")))
        extra = getattr(self, "extra_row_buttons", None)  # a view's own links (cerfa: « Écrire à l'ASP »)
        if extra is not None:
            out.append(extra(model))
        return Markup('<span class="bo-row-actions">') + Markup("").join(out) + Markup("</span>")

    # ---- endpoints --------------------------------------------------------------------------------
    @expose("/workflow/<transition>/row", methods=["POST"])
    def workflow_row(self, transition):
        name = transition
        t = self._transition_or_404(name)
        ident, version = parse_id(request.form.get("id")), parse_id(request.form.get("version") or None)
        if ident is None or (request.form.get("version") not in (None, "", "0") and version is None):
            flash("Requête invalide.", "error")  # finding 6: « 2⁶³ », « abc » never reach SQL
            return redirect(self.get_url(".index_view"))
        if t.params or t.reauth:
            # a reason is needed, or money moves (emitting a SEPA file, approving a hors-délai: issue 18): the same
            # dry run and confirmation page as in bulk, which asks for the password again when it is stale
            return self._preview(name, Selection.of_ids([ident], versions={ident: version} if version else None),
                                 "la ligne choisie")
        try:
            report = run(db.session, self.workflow, name,
                         Selection.of_ids([ident], versions={ident: version} if version else None),
                         current_user, now=clock.now())
            db.session.commit()
        except WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return security.redirect_back(self.get_url(".index_view"))
        flash(_report_message(report), _category(report.changed, report.refused_total))
        return security.redirect_back(self.get_url(".index_view"))

    @expose("/workflow/<transition>/filtered", methods=["POST"])
    def workflow_filtered(self, transition):
        name = transition
        """All rows matching the list's filters and search (query string forwarded), across pages."""
        self._transition_or_404(name)
        args = self._get_list_extra_args()
        _, query = self.get_list(None, None, False, args.search, args.filters, execute=False, page_size=0)
        ids_query = query.with_entities(self.model.id).order_by(None)
        ids = [row[0] for row in ids_query.all()]
        return self._preview(name, Selection.of_ids(ids), "toutes les lignes filtrées",
                             retour=self.get_url(".index_view", **request.args))

    def _preview(self, name, selection: Selection, scope_label: str, retour: str | None = None):
        t = self._transition_or_404(name)
        ids = selection.freeze(db.session)
        retour = self._retour(retour or security._local_referrer() or "")
        if not ids:
            flash("Aucune ligne sélectionnée.", "warning")
            return redirect(retour)
        run_row = BulkRun(workflow=self.workflow.name, transition=t.name, actor_id=current_user.id, ids=ids,
                          total=len(ids), statut=BulkRunStatut.APERCU, refus={}, created_at=clock.now(),
                          params={"_versions": {str(k): v for k, v in selection.versions.items()}},
                          description=f"{t.label} — {scope_label} ({self.name})")
        db.session.add(run_row)
        db.session.commit()
        return redirect(self.get_url(".workflow_run", run_id=run_row.id, retour=retour))

    @expose("/workflow/run/<int:run_id>", methods=["GET", "POST"])
    def workflow_run(self, run_id):
        run_row = db.session.get(BulkRun, run_id)
        if run_row is None or run_row.workflow != self.workflow.name or run_row.actor_id != current_user.id:
            abort(404)
        t = self._transition_or_404(run_row.transition)
        if t.reauth and run_row.statut == BulkRunStatut.APERCU:
            # approving a hors-délai, emitting a batch: a password entered within 15 minutes
            stale = security.fresh_auth_redirect(next_url=self.get_url(".workflow_run", run_id=run_row.id,
                                                                       retour=self._retour()))
            if stale is not None:
                return stale
        versions = {int(k): v for k, v in ((run_row.params or {}).get("_versions") or {}).items()}
        selection = Selection.of_ids(run_row.ids, versions=versions)
        form = form_for(t)() if t.params else None

        if request.method == "POST" and run_row.statut == BulkRunStatut.APERCU:
            if form is not None and not form.validate_on_submit():
                pass  # errors shown next to the fields below
            elif form is None and not _csrf_ok():
                abort(400)
            else:
                params = {f.name: f.data for f in form if f.name != "csrf_token"} if form else {}
                params = jsonable(params)  # a date parameter (issue 17) is kept in BulkRun.params (JSON)
                return self._confirm(run_row, t, selection, params)

        report, outcome = None, {}
        if run_row.statut == BulkRunStatut.APERCU:
            try:
                report = run(db.session, self.workflow, t.name, selection, current_user, dry_run=True,
                             now=clock.now(), params=None if t.params else {})
                # what the money will be: per programme and, for a send, the batch each programme goes to
                outcome = {"programmes": amounts_by_programme(db.session, self.workflow, report.eligible_ids),
                           "lots": planned_batches(db.session, self.workflow, t, report.eligible_ids,
                                                   clock.now().date())}
                if self.workflow.name == "lot_paiement" and t.name == "emettre":  # the payer's controls (issue 13)
                    from ..workflows.echeances import controles_des_lots
                    outcome["controles"] = controles_des_lots(db.session, report.eligible_ids)
            except WorkflowError as exc:
                flash(str(exc), "error")
                return redirect(self._retour())
            finally:
                db.session.rollback()
        else:
            outcome = self._outcome(run_row)
        return self.render("admin/workflow_run.html", run=run_row, transition=t, report=report, form=form,
                           outcome=outcome, format_montant=format_montant, list_url=self._retour())

    def _outcome(self, run_row) -> dict:
        """A run's result in money (issue 18): amounts per programme of the rows it moved and, for a send, the
        batches created or filled (read back from the audit events of the run: the same for a job)."""
        if run_row.modifies == 0:
            return {}
        return {"programmes": amounts_by_programme(db.session, self.workflow, moved_ids(run_row, self.workflow)),
                "lots": batches_of_run(db.session, run_row, self.workflow)}

    def lot_url(self, lot_id: int) -> str | None:
        """The batch's page, for a user who may open the batches' grid."""
        from .. import policy
        if not policy.allows("lot_paiement", "view", current_user):
            return None
        return url_for("lot_paiement.details_view", id=lot_id)

    def _confirm(self, run_row, t, selection, params):
        threshold = current_app.config.get("BULK_INLINE_THRESHOLD", 2000)
        try:
            if run_row.total <= threshold:
                report = run(db.session, self.workflow, t.name, selection, current_user, params=params,
                             now=clock.now(), bulk_run_id=run_row.id)
                run_row.statut = BulkRunStatut.TERMINE
                run_row.traites = run_row.total
                run_row.modifies = report.changed
                run_row.refus = dict(report.refused)
                run_row.params = params
                run_row.termine_at = clock.now()
                db.session.commit()
                flash(_report_message(report), _category(report.changed, report.refused_total))
            else:
                job_run = schedule(db.session, self.workflow, t.name, list(run_row.ids), current_user,
                                   params=params, now=clock.now(), run=run_row)
                db.session.commit()
                flash(f"Traitement de {job_run.total} lignes lancé en arrière-plan.", "info")
                return redirect(self.get_url(".workflow_run_progress", run_id=job_run.id, retour=self._retour()))
        except WorkflowError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        return redirect(self.get_url(".workflow_run", run_id=run_row.id, retour=self._retour()))

    def _own_run(self, run_id):
        run_row = db.session.get(BulkRun, run_id)
        if run_row is None or run_row.workflow != self.workflow.name or run_row.actor_id != current_user.id:
            abort(404)
        return run_row

    @expose("/workflow/progress/<int:run_id>")
    def workflow_run_progress(self, run_id):
        run_row = self._own_run(run_id)
        t = self._transition_or_404(run_row.transition)
        outcome = self._outcome(run_row) if run_row.statut == BulkRunStatut.TERMINE else {}
        from .suivi import progression
        return self.render("admin/workflow_run.html", run=run_row, transition=t, report=None, form=None,
                           outcome=outcome, format_montant=format_montant, list_url=self._retour(),
                           progression=progression(run_row, clock.now(), outcome, self.lot_url),
                           progression_url=self.get_url(".workflow_run_progress_json", run_id=run_row.id))

    @expose("/workflow/progress/<int:run_id>/etat")
    def workflow_run_progress_json(self, run_id):
        """The progress page's small JSON (issue 18 §6), read every 2 s by static/progression.js."""
        from flask import jsonify

        from .suivi import progression
        run_row = self._own_run(run_id)
        self._transition_or_404(run_row.transition)
        outcome = self._outcome(run_row) if run_row.statut == BulkRunStatut.TERMINE else {}
        data = progression(run_row, clock.now(), outcome, self.lot_url)
        data["liste_url"] = self._retour()
        response = jsonify(data)
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/sepa/<int:lot_id>")
    def sepa_file(self, lot_id):
        """The stored pain.001 file of an emitted batch (payment officers and admins: export right)."""
        if not hasattr(self.model, "fichier_sepa") or not self._allowed("export"):
            abort(403 if hasattr(self.model, "fichier_sepa") else 404)
        lot = self.get_one(lot_id)
        if lot is None or not lot.fichier_sepa:
            abort(404)
        from flask import Response
        return Response(lot.fichier_sepa, mimetype="application/xml", headers={
            "Content-Disposition": f'attachment; filename="{lot.reference}.xml"'})

    def _transition_or_404(self, name):
        t = self.workflow.transitions.get(name) if self.workflow else None
        if t is None or t.system:
            abort(404)
        if t not in self.offered_transitions():
            abort(403)
        return t


def _category(changed: int, refused: int) -> str:
    """The banner's colour: green only when every row went through (issue 18: 31 refused of 86 is a warning)."""
    if changed and not refused:
        return "success"
    return "warning"


def _csrf() -> str:
    from flask_wtf.csrf import generate_csrf
    return generate_csrf()


def _csrf_ok() -> bool:
    return True  # CSRFProtect already refused any POST without a valid token


# endpoint -> the life cycle its rows follow (workflows/__init__.py registry names)
WORKFLOW_OF_VIEW = {
    "cerfa": "cerfa",
    "allocation": "allocation",
    "demande_hors_delai": "hors_delai",
    "reversement": "reversement",
    "compte": "compte",
    "lot_paiement": "lot_paiement",
    "echeance": "echeance",
    "mail_outbox": "mail",
    "autorisation_ap": "autorisation_ap",  # issue 14: the UD decides
    "demande_indemnisation": "demande_indemnisation",  # the employer sends, the UD validates
    "demande_creation_compte": "demande_creation_compte",  # R65: the siège or the UD validates a sign-up
    "declaration_partenaire": "declaration_afas",  # issue 15: the partner approves and sends, the Caf processes
    "inscription": "parcours",  # issue 17: renew, close, sanctions (R1, R2, R15, R37)
    # issue 16: service civique (R55), ESAT and EA (R53, R54): liquidated in bulk on the grid's filter
    "contrat_service_civique": "contrat_service_civique",
    "mois_service_civique": "mois_service_civique",
    "declaration_garantie": "declaration_garantie",
    "declaration_ea": "declaration_ea",
    "versement_dgf": "versement_dgf",
    # issue 16: NACRE (R51) and Adultes-relais (R52)
    "convention_nacre": "convention_nacre",
    "etat_activite_nacre": "etat_activite_nacre",
    "expertise_nacre": "expertise_nacre",
    "poste_adulte_relais": "poste_adulte_relais",
    "declaration_adulte_relais": "declaration_adulte_relais",
}


class CorrectionMixin:
    """R46: an accepted, paid or refused allocation is corrected by a new version (the "pencil")."""

    def row_buttons(self, model):
        from ..workflows.allocations import CORRIGEABLES
        buttons = super().row_buttons(model)
        if model.statut in CORRIGEABLES and self._allowed("edit") and current_user.role.value == "conseiller":
            buttons += Markup('<a class="btn btn-outline-secondary btn-sm" data-transition="corriger" '
                              'href="{}">Corriger</a>').format(self.get_url(".correction", ident=model.id))
        return buttons

    @expose("/corriger/<int:ident>", methods=["GET", "POST"])
    def correction(self, ident):
        from ..forms.actions import correction_form
        from ..workflows.errors import WorkflowError
        from ..workflows.saisie import corriger_allocation
        if not self._allowed("edit") or current_user.role.value != "conseiller":
            abort(403)
        allocation = self.get_one(ident)  # scoped: another antenne's allocation is a 404
        if allocation is None:
            abort(404)
        form = correction_form()()
        if request.method == "GET":
            form.version_vue.data = allocation.version
            for k, r in enumerate(allocation.ressources[:3], start=1):
                getattr(form, f"type_{k}").data = r.type_ressource
                getattr(form, f"montant_{k}").data = f"{r.montant:.2f}".replace(".", ",")
        elif form.validate_on_submit():
            lignes = [(getattr(form, f"type_{k}").data, getattr(form, f"montant_{k}").decimal) for k in range(1, 4)
                      if getattr(form, f"type_{k}").data]
            try:
                new = corriger_allocation(db.session, allocation.id, lignes=lignes,
                                          ressources_differentielles=form.ressources_differentielles.decimal,
                                          actor=current_user, expected_version=parse_id(form.version_vue.data) or 0)
                db.session.commit()
            except WorkflowError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(f"Version corrective n° {new.id} enregistrée : {format_montant(new.montant)} "
                      f"(au lieu de {format_montant(allocation.montant)}). Soumettez-la pour validation.", "success")
                return redirect(self.get_url(".details_view", id=new.id))
        return self.render("admin/workflow_correction.html", form=form, allocation=allocation,
                           format_montant=format_montant, list_url=self.get_url(".index_view"))


def with_workflow(cls, endpoint: str):
    """The view class itself, or the same class with its workflow's row buttons and bulk actions."""
    name = WORKFLOW_OF_VIEW.get(endpoint)
    if name is None:
        return cls
    from ..workflows import registry
    bases = (CorrectionMixin, WorkflowModelView, cls) if endpoint == "allocation" else (WorkflowModelView, cls)
    return type(cls.__name__, bases, {"workflow": registry()[name], "__module__": cls.__module__})
