"""Service civique (R55, issue 16): hosts' agréments, contracts, their months and payments, the hosts' documents.

The ASP (siège) creates a contract through workflows.service_civique.creer_contrat (R55 checks, barème), computes
a month for the contracts of a filter (« Calculer un mois », dry run then confirmation) and liquidates the
months in bulk from the grid (row buttons, bulk on the filter). A host (Elisa: a partner whose account belongs
to its structure) sees its own contracts, each month with what the ASP pays, what it owes (the prestation) and
the payment's status, and uploads supporting documents; another host's record answers as a missing one.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, flash, g, has_request_context, redirect, request
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from wtforms import FileField, StringField
from wtforms.validators import ValidationError

from .. import clock, policy
from .. import models as m
from ..forms import entities
from ..forms.fields import parse_mois
from ..i18n import format_montant
from ..models.enums import STATUT_LABELS, Role, SourceEcheance as SE, TypeStructure
from ..workflows import pieces
from ..workflows import service_civique as sc
from ..workflows.errors import WorkflowError
from . import refs
from .base import ReadOnlyModelView, SecureModelView
from .filters import structure_filter
from .formatters import iban_groupes
from .saisie_workflow import SaisieWorkflowMixin


def _scope(model):
    return policy.row_scope(model, current_user)


def _statut(value) -> str:
    v = getattr(value, "value", value)
    return STATUT_LABELS.get(v, v or "")


class AgrementServiceCiviqueView(SaisieWorkflowMixin, SecureModelView):
    column_list = ["id", "numero", "organisme", "associatif", "iban", "created_at"]
    column_details_list = ["id", "numero", "organisme", "associatif", "iban", "bic", "created_at", "updated_at"]
    column_searchable_list = ["numero"]
    column_filters = ["associatif"]
    column_labels = {"associatif": "Association (subvention de l'État, R55)", "organisme": "Organisme d'accueil"}
    column_formatters = {"iban": iban_groupes}
    form_columns = ["organisme", "numero", "associatif", "iban", "bic"]
    form_args = {"organisme": {"query_factory": refs.structures(TypeStructure.ORGANISME_ACCUEIL)}}

    message_modification = "Un agrément ne se modifie pas ici : enregistrez le nouvel agrément de l'organisme."

    def saisir(self, form):
        if form.iban.data:
            self.mot_de_passe_recent()  # the host's IBAN (issue 12)
        return sc.enregistrer_agrement(self.session, actor=current_user,
                                       organisme_id=getattr(form.organisme.data, "id", None),
                                       numero=form.numero.data or "", associatif=bool(form.associatif.data),
                                       iban=form.iban.data, bic=form.bic.data)


def _mois(view, context, model, name):
    """The contract's months: what the ASP pays, what the host owes (R55), the payment's status."""
    rows = view.session.execute(
        sa.select(m.MoisServiceCivique).where(m.MoisServiceCivique.contrat_id == model.id)
        .order_by(m.MoisServiceCivique.periode)).scalars().all()
    paiements = _statuts_paiement([r.id for r in rows])
    out = [Markup('<table class="table table-sm" id="mois-contrat"><thead><tr><th>Mois</th>'
                  '<th class="text-right">Part du mois</th><th class="text-right">Indemnité</th>'
                  '<th class="text-right">Majoration</th><th class="text-right">Prestation due par l\'organisme</th>'
                  '<th class="text-right">Subvention</th><th>Statut</th><th>Paiement</th></tr></thead><tbody>')]
    for r in rows:
        out.append(Markup('<tr data-mois="{}"><td>{:%m/%Y}</td><td class="text-right">{}</td>'
                          '<td class="text-right">{}</td><td class="text-right">{}</td><td class="text-right">{}</td>'
                          '<td class="text-right">{}</td><td>{}</td><td>{}</td></tr>').format(
            r.id, r.periode, f"{r.fraction:.4f}".rstrip("0").rstrip(".").replace(".", ","),
            format_montant(r.indemnite), format_montant(r.majoration), format_montant(r.prestation_due),
            format_montant(r.subvention), _statut(r.statut), paiements.get(r.id, "—")))
    out.append(Markup("</tbody></table>"))
    return Markup("").join(out)


def _pieces(view, context, model, name):
    rows = view.session.execute(sa.select(m.PieceServiceCivique).where(m.PieceServiceCivique.contrat_id == model.id)
                                .order_by(m.PieceServiceCivique.id)).scalars().all()
    items = [Markup('<li><a href="{}" data-piece="{}">{}</a> — {}</li>').format(
        view.get_url(".piece", ident=p.id), p.id, p.piece.nom_fichier, p.objet) for p in rows]
    lien = Markup('<a class="btn btn-outline-primary btn-sm" href="{}">Déposer une pièce</a>').format(
        view.get_url(".deposer", ident=model.id))
    return Markup("<ul>{}</ul>{}").format(Markup("").join(items), lien)


def _statuts_paiement(mois_ids: list[int]) -> dict[int, str]:
    """mois id -> the status of its volunteer's payable (one query for the page)."""
    if not mois_ids:
        return {}
    from ..extensions import db
    rows = db.session.execute(sa.select(m.Echeance.source_id, m.Echeance.statut).where(
        m.Echeance.source_type == SE.SERVICE_CIVIQUE_MOIS, m.Echeance.source_id.in_(mois_ids))).all()
    return {i: _statut(s) for i, s in rows}


class ContratServiceCiviqueView(SaisieWorkflowMixin, SecureModelView):
    form_base_class = entities.PersonneDateeForm
    column_list = ["id", "numero", "organisme", "volontaire_nom", "volontaire_prenom", "date_debut", "date_fin",
                   "majoration_sociale", "indemnite_mensuelle", "prestation_accueil", "statut"]
    column_details_list = ["id", "numero", "organisme", "volontaire_nom", "volontaire_prenom",
                           "volontaire_date_naissance", "date_debut", "date_fin", "majoration_sociale",
                           "indemnite_mensuelle", "prestation_accueil", "iban", "bic", "statut", "mois", "pieces",
                           "created_at", "updated_at"]
    column_export_list = column_list
    column_searchable_list = ["numero", "volontaire_nom"]
    column_filters = ["statut", structure_filter(m.ContratServiceCivique.organisme_id, "Organisme d'accueil",
                                                 [TypeStructure.ORGANISME_ACCUEIL]),
                      "majoration_sociale", "date_debut", "date_fin"]
    column_labels = {"indemnite_mensuelle": "Indemnité mensuelle (État, R55)",
                     "prestation_accueil": "Prestation mensuelle due par l'organisme (R55)",
                     "majoration_sociale": "Majoration sociale", "mois": "Mois et paiements",
                     "pieces": "Pièces justificatives", "iban": "IBAN du volontaire"}
    column_formatters = {"iban": iban_groupes, "mois": _mois, "pieces": _pieces}
    form_columns = ["numero", "organisme", "volontaire_nom", "volontaire_prenom", "volontaire_date_naissance",
                    "date_debut", "date_fin", "majoration_sociale", "prestation_accueil", "iban", "bic"]
    form_args = {"organisme": {"query_factory": refs.structures(TypeStructure.ORGANISME_ACCUEIL)},
                 "prestation_accueil": {"description": "Au moins 7,43 % (114,85 € au 01/01/2024, R55) ; vide : "
                                                       "le minimum."},
                 "iban": {"description": "Compte du volontaire, dans un pays de la zone SEPA."}}
    column_descriptions = {"indemnite_mensuelle": "Calculée du barème en vigueur au début de la mission, "
                                                  "majoration comprise."}

    champs_manquants = "Dates du volontaire et de la mission obligatoires."
    message_modification = "Un contrat signé ne se modifie pas : résiliez-le et enregistrez le nouveau contrat."

    def saisir(self, form):
        """R55 checks and the barème: through the workflow."""
        self.mot_de_passe_recent()  # the volunteer's IBAN: where the money goes (issue 12)
        return sc.creer_contrat(
            self.session, actor=current_user, organisme_id=getattr(form.organisme.data, "id", None),
            numero=(form.numero.data or "").strip(), nom=form.volontaire_nom.data,
            prenom=form.volontaire_prenom.data, naissance=form.volontaire_date_naissance.data,
            debut=form.date_debut.data, fin=form.date_fin.data,
            majoration_sociale=bool(form.majoration_sociale.data), prestation=form.prestation_accueil.data,
            iban=form.iban.data or "", bic=form.bic.data, now=clock.now())

    def _contrat_visible(self, ident):
        q = sa.select(m.ContratServiceCivique).where(m.ContratServiceCivique.id == ident)
        if (c := _scope(m.ContratServiceCivique)) is not None:
            q = q.where(c)
        return self.session.execute(q).scalar_one_or_none()

    @expose("/deposer/<int:ident>", methods=["GET", "POST"])
    def deposer(self, ident):
        """A host's supporting document for one of its contracts (another's: a missing one)."""
        contrat = self._contrat_visible(ident)
        if contrat is None:
            abort(404)
        from flask_wtf import FlaskForm

        class DepotForm(FlaskForm):
            objet = StringField("Objet (attestation, avenant…)")
            fichier = FileField("Fichier (PDF, PNG ou JPEG, 5 Mo au plus)")

        form = DepotForm()
        if request.method == "POST" and form.validate_on_submit():
            fichier = request.files.get("fichier")
            try:
                if fichier is None or not fichier.filename:
                    raise WorkflowError("Choisissez un fichier.")
                sc.deposer_piece(self.session, actor=current_user, contrat_id=contrat.id, contenu=fichier.read(),
                                 nom_fichier=fichier.filename, objet=form.objet.data or "")
                self.session.commit()
            except WorkflowError as exc:
                self.session.rollback()
                flash(str(exc), "error")
            else:
                flash("Pièce déposée.", "success")
                return redirect(self.get_url(".details_view", id=contrat.id))
        return self.render("admin/sc_depot.html", form=form, contrat=contrat,
                           retour=self.get_url(".details_view", id=contrat.id))

    @expose("/piece/<int:ident>")
    def piece(self, ident):
        q = sa.select(m.PieceServiceCivique).where(m.PieceServiceCivique.id == ident)
        if (c := _scope(m.PieceServiceCivique)) is not None:
            q = q.where(c)
        lien = self.session.execute(q).scalar_one_or_none()
        if lien is None:
            abort(404)
        try:
            body = pieces.lire_piece(lien.piece)
        except (OSError, WorkflowError):
            abort(404)
        from werkzeug.utils import secure_filename
        return Response(body, mimetype=lien.piece.type_mime, headers={
            "Content-Disposition": f'attachment; filename="{secure_filename(lien.piece.nom_fichier) or "piece"}"',
            "X-Content-Type-Options": "nosniff"})


def _paiement(view, context, model, name):
    return (g.get("bo_sc_paiements") or {}).get(model.id, "—") if has_request_context() else ""


class MoisServiceCiviqueView(ReadOnlyModelView):
    """The months to liquidate: the grid filtered on a month (and a host) → « Liquider et envoyer en paiement »
    on all the filtered rows (dry run, confirmation)."""

    column_list = ["id", "contrat", "contrat.organisme", "periode", "fraction", "indemnite", "majoration",
                   "subvention", "prestation_due", "statut", "paiement"]
    column_details_list = ["id", "contrat", "contrat.organisme", "periode", "fraction", "indemnite", "majoration",
                           "subvention", "prestation_due", "bareme_du", "statut", "motif", "paiement", "created_at"]
    column_export_list = ["id", "contrat", "periode", "fraction", "indemnite", "majoration", "subvention",
                          "prestation_due", "statut"]
    column_sortable_list = ["id", "periode", "indemnite", "statut"]
    column_searchable_list = ["contrat.numero"]
    column_filters = ["periode", "statut", "contrat.numero", "contrat.organisme.nom"]
    column_labels = {"contrat.organisme": "Organisme d'accueil", "contrat.organisme.nom": "Organisme d'accueil",
                     "contrat.numero": "N° de contrat", "periode": "Mois", "fraction": "Part du mois (R55)",
                     "indemnite": "Indemnité (État)", "majoration": "Majoration sociale",
                     "subvention": "Subvention à l'organisme", "prestation_due": "Prestation due par l'organisme",
                     "bareme_du": "Barème du", "paiement": "Paiement du volontaire"}
    column_formatters = {"paiement": _paiement,
                         "periode": lambda v, c, mo, n: f"{mo.periode:%m/%Y}"}

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute=execute,
                                       page_size=page_size)
        if execute and has_request_context():
            g.bo_sc_paiements = _statuts_paiement([r.id for r in rows])
        return count, rows

    def get_one(self, id):
        obj = super().get_one(id)
        if obj is not None and has_request_context():
            g.bo_sc_paiements = _statuts_paiement([obj.id])
        return obj

    @expose("/calculer", methods=["GET", "POST"])
    def calculer(self):
        """The month's computation for every contract of the filter (R55): a dry run, then the confirmation."""
        if getattr(current_user, "role", None) not in (Role.ADMIN, Role.SIEGE, Role.COMPTABLE):
            abort(403)
        from flask_wtf import FlaskForm

        class CalculForm(FlaskForm):
            mois = StringField("Mois (MM/AAAA)")

        form = CalculForm()
        organismes = self.session.execute(sa.select(m.Structure).where(
            m.Structure.type == TypeStructure.ORGANISME_ACCUEIL).order_by(m.Structure.nom)).scalars().all()
        message, apercu = None, None
        if request.method == "POST" and form.validate_on_submit():
            try:
                periode = parse_mois(form.mois.data or "")
                if periode is None:
                    raise ValueError
            except (ValueError, ValidationError):
                flash("Mois invalide : MM/AAAA attendu.", "error")
            else:
                orgs = [int(x) for x in request.form.getlist("organisme_id") if x.isdigit() and len(x) < 10]
                confirmer = request.form.get("confirmer") == "1"
                try:
                    calcul = sc.calculer_mois(self.session, actor=current_user, periode=periode,
                                              organisme_ids=orgs or None, dry_run=not confirmer, now=clock.now())
                    if confirmer:
                        self.session.commit()
                        flash(calcul.message(), "success")
                        return redirect(self.get_url(".index_view"))
                    self.session.rollback()
                    message, apercu = calcul.message(), {"mois": form.mois.data, "orgs": orgs}
                except WorkflowError as exc:
                    self.session.rollback()
                    flash(str(exc), "error")
        return self.render("admin/sc_calcul.html", form=form, organismes=organismes, message=message,
                           apercu=apercu, list_url=self.get_url(".index_view"))
