"""Activité partielle: establishments (one per SIRET, R62), authorisations (DAP), employees, monthly
claims (DI) and their hours per employee (R71-R74).

A partner's user sees their own establishments (policy.partner_scope); the main contact changes the
referent, and nothing else (R64). A SIRET is never changed: a new SIRET is a new account (R62).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, request
from flask_admin import expose
from flask_admin.menu import MenuLink
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload
from wtforms import FileField, StringField, TextAreaField
from wtforms.validators import Length, StopValidation, ValidationError

from .. import clock
from .. import models as m
from ..extensions import db
from ..forms import entities
from ..forms.fields import BicField, IbanField, NirField, SiretField
from ..models.enums import AutorisationStatut, DIStatut, Role
from ..i18n import format_montant
from ..workflows import activite_partielle as ap_wf
from ..workflows import habilitations, pieces
from ..workflows.errors import WorkflowError
from . import refs
from .base import SecureModelView
from .fiche import Related
from .saisie_workflow import SaisieWorkflowMixin, refus_du_workflow


def _periode(view, context, model, name):
    return Markup("{:02d}/{}").format(model.mois, model.annee) if model.mois and model.annee else ""


def _siret_libre(form, field):
    """R62: one account per SIRET; stops before Flask-Admin's generic « Existe déjà »."""
    try:
        habilitations.verifier_siret_libre(db.session, field.data,
                                           sauf_id=getattr(getattr(form, "_obj", None), "id", None))
    except WorkflowError as exc:
        raise StopValidation(str(exc)) from None


# what a partner's main contact may change in their establishment's record (R64), and the account its
# allowance is paid to (a money-routing change: the password of less than 15 minutes, policy.MONEY_ROUTING)
CHAMPS_PARTENAIRE = ("referent_nom", "iban", "bic")


class DemandeCreationCompteView(SecureModelView):
    """The employers' sign-ups from the public page (R62, R63), validated or refused by the siège or the UD of
    the département (INSCRIPTION workflow: row buttons, bulk on a filter); validation creates the establishment,
    the main contact's account and sends the three mails (R65). A tiers déclarant's sign-up shows its account
    already: validated, the establishment is linked to it (R64). The secret answer is never shown."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "siret", "raison_sociale", "code_postal", "ville", "contact_nom", "contact_prenom",
                   "compte", "statut", "deposee_at", "decision_at"]
    column_details_list = ["id", "siret", "raison_sociale", "libelle_voie", "complement_adresse", "code_postal",
                           "ville", "email_etablissement", "telephone_etablissement", "effectif", "contact_nom",
                           "contact_prenom", "contact_email", "contact_telephone", "cgu_acceptees_at", "statut",
                           "deposee_at", "decision_at", "motif_refus", "etablissement", "compte"]
    column_export_list = ["id", "siret", "raison_sociale", "code_postal", "ville", "contact_nom", "contact_prenom",
                          "contact_email", "statut", "deposee_at", "decision_at", "motif_refus"]
    column_searchable_list = ["siret", "raison_sociale"]
    column_filters = ["statut", "code_postal", "deposee_at"]
    column_default_sort = ("id", True)
    column_labels = {"contact_nom": "Nom du contact", "contact_prenom": "Prénom du contact",
                     "contact_email": "E-mail du contact", "contact_telephone": "Téléphone du contact",
                     "email_etablissement": "E-mail de l'établissement",
                     "telephone_etablissement": "Téléphone de l'établissement",
                     "cgu_acceptees_at": "CGU acceptées le", "deposee_at": "Déposée le",
                     "compte": "Compte (tiers déclarant : rattachement, R64)"}


class EtablissementView(SecureModelView):
    form_base_class = entities.EtablissementForm
    column_list = ["id", "siret", "raison_sociale", "code_postal", "ville", "effectif", "email", "referent_nom"]
    column_details_list = ["id", "siret", "raison_sociale", "libelle_voie", "complement_adresse", "code_postal",
                           "ville", "email", "telephone", "effectif", "referent_nom", "iban", "bic", "created_at",
                           "updated_at"]
    column_searchable_list = ["siret", "raison_sociale"]
    column_filters = ["code_postal", "ville", "effectif"]
    form_columns = ["siret", "raison_sociale", "libelle_voie", "complement_adresse", "code_postal", "ville",
                    "email", "telephone", "effectif", "referent_nom", "iban", "bic"]
    # the account its allowance is paid to (R74, issue 13): IBAN by schwifty with the French RIB key (R76)
    form_overrides = {"siret": SiretField, "iban": IbanField, "bic": BicField}
    form_args = {
        "siret": {"validators": [_siret_libre]},
        # R63: the extranet's address lines
        "libelle_voie": {"validators": [Length(max=28, message="Libellé de voie : 28 caractères au maximum (R63).")]},
        "complement_adresse": {"validators": [Length(max=38,
                                                     message="Complément d'adresse : 38 caractères au maximum (R63).")]},
        "code_postal": {"validators": [Length(min=5, max=5, message="Code postal : 5 chiffres.")]},
    }
    column_descriptions = {"referent_nom": "Personne à contacter ; le contact principal du compte peut la changer "
                                           "(R64)."}

    def _partenaire(self) -> bool:
        return getattr(current_user, "role", None) == Role.PARTENAIRE

    def get_one(self, id):
        obj = super().get_one(id)
        # a partner opens the edit page of an establishment they are the main contact of, no other (R64)
        if (obj is not None and self._partenaire() and request.endpoint == f"{self.endpoint}.edit_view"
                and not habilitations.peut_changer_referent(self.session, current_user, obj.id)):
            return None
        return obj

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for field in list(form):
            if field.name in ("csrf_token", "version_vue"):
                continue
            # R62: the SIRET of an account never changes; R64: a partner changes the referent only
            if field.name == "siret" or (self._partenaire() and field.name not in CHAMPS_PARTENAIRE):
                delattr(form, field.name)
        return form

    def on_model_change(self, form, model, is_created):
        if not is_created:
            state = sa.inspect(model)
            changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
            if "siret" in changed:
                raise ValidationError(habilitations.MSG_SIRET_FIGE)
            if self._partenaire():
                if not habilitations.peut_changer_referent(self.session, current_user, model.id):
                    raise ValidationError(habilitations.MSG_REFERENT)
                if changed - set(CHAMPS_PARTENAIRE) - {"version", "updated_at"}:
                    raise ValidationError(habilitations.MSG_REFERENT)
        super().on_model_change(form, model, is_created)


def _piece(view, context, model, name):
    piece = model.piece_cse
    if piece is None:
        return ""
    return Markup('<a href="{}" data-piece="{}">{}</a> ({} octets)').format(
        view.get_url(".piece", ident=piece.id), piece.id, piece.nom_fichier, piece.taille)


def _partenaire() -> bool:
    return getattr(current_user, "role", None) == Role.PARTENAIRE


class AutorisationAPView(SaisieWorkflowMixin, SecureModelView):
    """DAP (R73): filed by the employer through workflows.activite_partielle.deposer_autorisation (period rules,
    commitments, the CSE opinion as an attachment); decided by the UD (AUTORISATION workflow: row buttons,
    bulk on a filter)."""

    form_base_class = entities.EntityForm
    column_list = ["id", "numero", "etablissement", "motif", "forme_amenagement", "date_debut", "date_fin",
                   "nb_salaries", "heures_prevues", "statut", "deposee_at", "decision_at"]
    # the 10-character secret code (R71) is a secret (issue 12): stored as a digest only, mailed once
    column_details_list = ["id", "numero", "etablissement", "motif", "forme_amenagement", "date_debut", "date_fin",
                           "nb_salaries", "heures_prevues", "engagements", "avis_cse", "piece_cse", "statut",
                           "deposee_at", "decision_at", "motif_refus"]
    column_export_list = ["id", "numero", "etablissement", "motif", "forme_amenagement", "date_debut", "date_fin",
                          "nb_salaries", "heures_prevues", "statut", "deposee_at", "decision_at", "motif_refus"]
    column_searchable_list = ["numero", "etablissement.siret"]
    column_filters = ["statut", "motif", "date_debut", "date_fin", "nb_salaries", "deposee_at"]
    column_labels = {"etablissement.siret": "SIRET", "piece_cse": "Avis du CSE (pièce jointe)",
                     "forme_amenagement": "Forme d'aménagement", "engagements": "Engagements de l'employeur"}
    column_formatters = {"piece_cse": _piece}
    form_columns = ["etablissement", "motif", "forme_amenagement", "date_debut", "date_fin", "nb_salaries",
                    "heures_prevues", "engagements", "piece_cse_fichier"]
    form_extra_fields = {"piece_cse_fichier": FileField("Avis du CSE (PDF, PNG ou JPEG, 5 Mo au plus ; "
                                                        "obligatoire à partir de 50 salariés)")}
    form_ajax_refs = {"etablissement": refs.etablissement()}
    form_overrides = {"engagements": TextAreaField}
    column_descriptions = {"engagements": "Obligatoires si l'établissement a eu recours à l'activité partielle "
                                          "dans les 36 derniers mois (R73)."}
    editable_statuts = frozenset({AutorisationStatut.DEPOSEE})
    editable_message = "Une autorisation décidée ne se modifie plus."
    message_modification = "Une demande déposée ne se modifie pas : l'UD la refuse, déposez-en une autre."

    def saisir(self, form):
        """The DAP goes through the workflow (R73); the CSE opinion is stored as an attachment first."""
        etab = form.etablissement.data
        piece_id = None
        fichier = request.files.get("piece_cse_fichier")
        if fichier is not None and fichier.filename:
            piece_id = pieces.enregistrer_piece(self.session, actor=current_user, contenu=fichier.read(),
                                                nom_fichier=fichier.filename,
                                                etablissement_id=getattr(etab, "id", None)).id
        return ap_wf.deposer_autorisation(
            self.session, actor=current_user, etablissement_id=getattr(etab, "id", None),
            motif=form.motif.data, date_debut=form.date_debut.data, date_fin=form.date_fin.data,
            nb_salaries=form.nb_salaries.data, heures_prevues=form.heures_prevues.data,
            forme_amenagement=form.forme_amenagement.data or "reduction", engagements=form.engagements.data,
            piece_cse_id=piece_id, now=clock.now())

    @expose("/piece/<int:ident>")
    def piece(self, ident):
        """Download an attachment within the role's scope (another employer's: a missing one)."""
        from flask import Response

        from ..models import PieceJointe
        query = sa.select(PieceJointe).where(PieceJointe.id == ident)
        clause = policy_scope(PieceJointe)
        if clause is not None:
            query = query.where(clause)
        piece = self.session.execute(query).scalar_one_or_none()
        if piece is None:
            abort(404)
        try:
            body = pieces.lire_piece(piece)
        except (OSError, WorkflowError):
            abort(404)
        from werkzeug.utils import secure_filename
        return Response(body, mimetype=piece.type_mime, headers={
            "Content-Disposition": f'attachment; filename="{secure_filename(piece.nom_fichier) or "piece"}"',
            "X-Content-Type-Options": "nosniff"})


def policy_scope(model):
    from .. import policy
    return policy.row_scope(model, current_user)


class SalarieView(SecureModelView):
    column_list = ["id", "nom", "prenom", "etablissement", "taux_horaire_brut", "heures_contrat_mensuelles",
                   "apprenti"]
    column_details_list = ["id", "nom", "prenom", "etablissement", "numero_securite_sociale", "taux_horaire_brut",
                           "heures_contrat_mensuelles", "apprenti", "created_at"]
    column_export_list = column_list
    column_searchable_list = ["nom", "etablissement.siret"]
    column_filters = ["apprenti", "taux_horaire_brut"]
    column_labels = {"etablissement.siret": "SIRET de l'établissement",
                     "apprenti": "Apprenti ou contrat de professionnalisation"}
    form_columns = ["etablissement", "nom", "prenom", "numero_securite_sociale", "taux_horaire_brut",
                    "heures_contrat_mensuelles", "apprenti"]
    form_ajax_refs = {"etablissement": refs.etablissement()}
    form_overrides = {"numero_securite_sociale": NirField}

    def on_model_change(self, form, model, is_created):
        if _partenaire():
            with self.session.no_autoflush:
                ok = self.session.execute(sa.select(m.Etablissement.id).where(
                    m.Etablissement.id == model.etablissement_id, policy_scope(m.Etablissement))).first()
            if ok is None:
                raise ValidationError("Établissement introuvable.")
        super().on_model_change(form, model, is_created)

    @expose("/import", methods=["GET", "POST"])
    def import_view(self):
        """Employees from a CSV or XLSX file: every row checked, the errors per row, nothing written when
        one row is wrong (R71: « importer »)."""
        if not self._allowed("create"):
            abort(403)
        etablissements = self.session.execute(
            sa.select(m.Etablissement).where(*(c for c in [policy_scope(m.Etablissement)] if c is not None))
            .order_by(m.Etablissement.raison_sociale).limit(200)).scalars().all()
        erreurs, message = [], None
        if request.method == "POST":
            fichier = request.files.get("fichier")
            try:
                etab_id = int(request.form.get("etablissement_id") or 0)
                if fichier is None or not fichier.filename:
                    raise WorkflowError("Choisissez un fichier CSV ou XLSX.")
                result = ap_wf.importer_salaries(self.session, actor=current_user, etablissement_id=etab_id,
                                                 contenu=fichier.read(), nom_fichier=fichier.filename)
            except (WorkflowError, ValueError) as exc:
                self.session.rollback()
                erreurs = [str(exc)]
            else:
                if result.ok:
                    self.session.commit()
                    message = f"{result.crees} salarié(s) importé(s)."
                    flash(message, "success")
                else:
                    self.session.rollback()
                    erreurs = result.erreurs
        return self.render("admin/ap_import.html", etablissements=etablissements, erreurs=erreurs,
                           message=message, list_url=self.get_url(".index_view"))


def _lignes(view, context, model, name):
    """The claim's lines and its totals (R74)."""
    rows = sorted(model.lignes, key=lambda ligne: ligne.id)
    out = [Markup('<table class="table table-sm" id="lignes-di"><thead><tr><th>Salarié</th>'
                  '<th class="text-right">Heures travaillées</th><th class="text-right">Heures chômées</th>'
                  '<th class="text-right">Heures retenues</th><th class="text-right">Indemnité (60 %)</th>'
                  '<th class="text-right">Allocation (36 %)</th></tr></thead><tbody>')]
    for ligne in rows:
        out.append(Markup('<tr data-ligne="{}"><td>{}</td><td class="text-right">{}</td><td class="text-right">{}'
                          '</td><td class="text-right">{}</td><td class="text-right">{}</td>'
                          '<td class="text-right">{}</td></tr>').format(
            ligne.id, str(ligne.salarie), _h(ligne.heures_travaillees), _h(ligne.heures_chomees),
            _h(ligne.heures_retenues), format_montant(ligne.indemnite), format_montant(ligne.allocation)))
    out.append(Markup('</tbody><tfoot><tr><th colspan="4">Total ({} salarié(s))</th>'
                      '<th class="text-right" id="total-indemnites">{}</th>'
                      '<th class="text-right" id="total-allocation">{}</th></tr></tfoot></table>').format(
        len(rows), format_montant(model.montant_indemnites), format_montant(model.montant_allocation)))
    return Markup("").join(out)


def _h(value) -> str:
    return f"{value:.2f}".replace(".", ",") if value is not None else ""


class DemandeIndemnisationView(SaisieWorkflowMixin, SecureModelView):
    """DI (R71, R72): created by the employer with the decision's secret code and a month (the « nouvelle
    demande » form); its lines are typed in « Heures par salarié » (computed on save, R74); sent, validated
    or invalidated through the DI workflow."""

    column_list = ["id", "autorisation", "periode", "statut", "montant_indemnites", "montant_allocation",
                   "envoyee_at"]
    # issue 18 §3: the claim's lines on its page (one query)
    related_sections = (
        Related("lignes", "Heures par salarié", "ligne_di", m.LigneDI, lambda d: m.LigneDI.demande_id == d.id,
                ("salarie", "heures_travaillees", "heures_chomees", "heures_retenues", "indemnite", "allocation"),
                order=lambda: m.LigneDI.id, limit=100, options=lambda: (joinedload(m.LigneDI.salarie),)),
    )
    column_details_list = ["id", "autorisation", "periode", "statut", "lignes", "montant_indemnites",
                           "montant_allocation", "envoyee_at", "decision_at", "motif_invalidation", "created_at",
                           "updated_at"]
    column_export_list = ["id", "autorisation", "annee", "mois", "statut", "montant_indemnites",
                          "montant_allocation", "envoyee_at"]
    column_searchable_list = ["autorisation.numero"]
    column_filters = ["statut", "annee", "mois", "envoyee_at"]
    column_labels = {"autorisation.numero": "N° d'autorisation", "lignes": "Salariés et heures",
                     "code_secret": "Code secret"}
    column_formatters = {"periode": _periode, "lignes": _lignes}
    form_columns = ["code_secret", "annee", "mois"]
    form_extra_fields = {"code_secret": StringField(
        "Code secret (10 caractères, sur la notification de décision)",
        render_kw={"autocomplete": "off", "maxlength": 14, "spellcheck": "false"})}
    form_args = {"mois": {"description": "1 à 12."}}
    editable_statuts = frozenset({DIStatut.CREEE, DIStatut.EN_SAISIE})
    editable_message = "Une demande envoyée à l'UD ne se modifie plus."
    erreurs_de_champ = (TypeError, ValueError)
    champs_manquants = "Année ou mois invalide."
    message_modification = "Les heures se saisissent par salarié (« Heures par salarié »)."

    def saisir(self, form):
        """R71/R72: the code finds the authorisation; the month must be inside its period, within 6 months."""
        return ap_wf.creer_di(self.session, actor=current_user, code=form.code_secret.data or "",
                              annee=form.annee.data, mois=form.mois.data, now=clock.now())

    def annuler_saisie(self) -> None:
        self.session.rollback()
        self.session.commit()  # the wrong-code attempt and its audit are kept

    @expose("/suivi")
    def suivi(self):
        """The employer's tableau de suivi: its authorisations and claims with their status."""
        auto_q = sa.select(m.AutorisationAP).order_by(m.AutorisationAP.date_debut.desc()).limit(200)
        di_q = (sa.select(m.DemandeIndemnisation).order_by(m.DemandeIndemnisation.annee.desc(),
                                                            m.DemandeIndemnisation.mois.desc()).limit(500))
        if (c := policy_scope(m.AutorisationAP)) is not None:
            auto_q = auto_q.where(c)
        if (c := policy_scope(m.DemandeIndemnisation)) is not None:
            di_q = di_q.where(c)
        return self.render("admin/ap_suivi.html", autorisations=self.session.execute(auto_q).scalars().all(),
                           demandes=self.session.execute(di_q).scalars().all(), format_montant=format_montant,
                           statut_label=_statut_label)


class LienSuiviAP(MenuLink):
    """Menu entry « Activité partielle › Tableau de suivi » (/admin/demande_indemnisation/suivi): shown to the
    roles that may open the claims (the employer first; the policy table decides)."""

    def is_accessible(self):
        from .. import policy
        return policy.allows("demande_indemnisation", "view", current_user)


def _statut_label(value) -> str:
    from ..models.enums import STATUT_LABELS
    v = getattr(value, "value", value)
    return STATUT_LABELS.get(v, v)


class LigneDIView(SecureModelView):
    """A claim's line: hours typed by the employer, the rest computed on save (R74)."""

    column_list = ["id", "demande", "salarie", "heures_travaillees", "heures_chomees", "heures_retenues",
                   "indemnite", "allocation"]
    column_details_list = column_list
    column_filters = ["demande_id", "heures_chomees"]
    column_labels = {"demande_id": "N° de DI", "heures_retenues": "Heures retenues (R74)"}
    # the retained hours, the indemnity (60 %) and the allocation (36 %, floor) are computed (R74)
    form_columns = ["demande", "salarie", "heures_travaillees", "heures_chomees"]
    form_ajax_refs = {"demande": refs.demande_indemnisation(), "salarie": refs.salarie()}

    def on_model_change(self, form, model, is_created):
        demande_id = model.demande.id if model.demande is not None else model.demande_id
        salarie_id = model.salarie.id if model.salarie is not None else model.salarie_id
        with refus_du_workflow():
            ap_wf.verifier_ligne(self.session, actor=current_user, demande_id=demande_id, salarie_id=salarie_id)
            if not is_created:
                old = sa.inspect(model).attrs.demande_id.history.deleted
                if old and old[0] != demande_id:
                    raise WorkflowError("Une ligne ne change pas de demande.")
        super().on_model_change(form, model, is_created)
        self.session.flush()
        ap_wf.recalculer_di(self.session, [demande_id], clock.now())

    def on_model_delete(self, model):
        with refus_du_workflow():
            ap_wf.verifier_ligne(self.session, actor=current_user, demande_id=model.demande_id,
                                 salarie_id=model.salarie_id)
        self._deleted_demande = model.demande_id

    def after_model_delete(self, model):
        demande_id = getattr(self, "_deleted_demande", None)
        if demande_id is not None:
            ap_wf.recalculer_di(self.session, [demande_id], clock.now())
            self.session.commit()
