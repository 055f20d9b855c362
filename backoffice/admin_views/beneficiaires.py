"""Jeunes: beneficiaries, their RIBs, their enrolments (parcours) and their contract forms (cerfa)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_admin import expose
from sqlalchemy.orm import joinedload
from flask_login import current_user
from markupsafe import Markup
from wtforms.validators import Optional, ValidationError

from .. import models as m
from ..forms import entities
from ..forms.fields import BicField, IbanField, cle_recherche
from ..models.enums import CerfaStatut, InscriptionStatut, Role
from ..workflows import cerfa as cerfa_wf
from . import refs
from .base import SecureModelView
from .fiche import Lie, Related
from .filters import antenne_filter, dispositif_filter
from .formatters import iban_groupes
from .reversements import lien_compte_debiteur

ACTIVITES_MICRO = [("achat_revente", "Achat-revente, fabrication, hébergement (abattement 71 %)"),
                   ("bic_services", "Autres BIC : artisanat, commerce (50 %)"),
                   ("bnc", "BNC : professions libérales, meublés (34 %)"),
                   ("agricole", "Agricole (87 %)")]


def _conseiller() -> bool:
    return getattr(current_user, "role", None) == Role.CONSEILLER


def _inscriptions_de(b):
    return sa.select(m.Inscription.id).where(m.Inscription.beneficiaire_id == b.id).scalar_subquery()


def _allocations_de(b):
    return sa.select(m.Allocation.id).where(m.Allocation.beneficiaire_id == b.id)


class BeneficiaireView(SecureModelView):
    # issue 18 §3: the youth's page reaches each of their records, one query per section
    related_sections = (
        Related("parcours", "Parcours", "inscription", m.Inscription, lambda b: m.Inscription.beneficiaire_id == b.id,
                ("dispositif", "date_debut", "date_fin_prevue", "statut"),
                options=lambda: (joinedload(m.Inscription.dispositif),)),
        Related("cerfa", "Cerfa", "cerfa", m.Cerfa, lambda b: m.Cerfa.inscription_id.in_(_inscriptions_de(b)),
                ("inscription", "type_version", "date_signature", "montant_prevu", "statut"),
                options=lambda: (joinedload(m.Cerfa.inscription),)),
        Related("allocations", "Allocations", "allocation", m.Allocation,
                lambda b: m.Allocation.beneficiaire_id == b.id, ("dispositif", "mois", "nature", "montant", "statut"),
                order=lambda: (m.Allocation.mois.desc(), m.Allocation.id.desc()),
                options=lambda: (joinedload(m.Allocation.dispositif),),
                filtre=("beneficiaire_id", lambda b: b.id)),
        Related("rib", "RIB", "compte_bancaire", m.CompteBancaire, lambda b: m.CompteBancaire.beneficiaire_id == b.id,
                ("titulaire", "iban", "actif")),
        # through the allocations (indexed), the youth's payments of every batch
        Related("paiements", "Paiements", "paiement", m.Paiement,
                lambda b: m.Paiement.allocation_id.in_(_allocations_de(b)),
                ("lot", "allocation", "montant", "statut", "motif_rejet"),
                options=lambda: (joinedload(m.Paiement.lot), joinedload(m.Paiement.allocation))),
    )
    # « Tout ce qui est arrivé à … » (issue 18): the youth, enrolments, cerfa, allocations, RIBs, payments, reversements
    history_related = (
        Lie("inscription", m.Inscription, lambda b: m.Inscription.beneficiaire_id == b.id),
        Lie("cerfa", m.Cerfa, lambda b: m.Cerfa.inscription_id.in_(_inscriptions_de(b))),
        Lie("allocation", m.Allocation, lambda b: m.Allocation.beneficiaire_id == b.id),
        Lie("compte_bancaire", m.CompteBancaire, lambda b: m.CompteBancaire.beneficiaire_id == b.id),
        Lie("paiement", m.Paiement, lambda b: m.Paiement.beneficiaire_id == b.id),
        Lie("reversement", m.Reversement, lambda b: m.Reversement.beneficiaire_id == b.id),
    )
    form_base_class = entities.BeneficiaireForm
    column_list = ["id", "identifiant_imilo", "nom", "prenom", "date_naissance", "antenne",
                   "ressortissant_eee", "inscrit_france_travail", "qpv", "rqth", "tranche_fiscale"]
    column_details_list = ["id", "identifiant_imilo", "nom", "prenom", "date_naissance", "email", "telephone",
                           "adresse", "code_postal", "ville", "antenne", "ressortissant_eee", "numero_agdref",
                           "date_fin_titre_sejour", "inscrit_france_travail", "date_inscription_france_travail",
                           "qpv", "rqth", "tranche_fiscale", "protection_juridique", "reference_jugement",
                           "micro_entrepreneur", "activite_micro", "date_immatriculation_micro",
                           "created_at", "updated_at", "compte_debiteur"]
    column_searchable_list = ["nom_recherche", "identifiant_imilo"]
    # sorts an index serves (issue 6): by name means by the normalised « NOM PRENOM »
    column_sortable_list = ["id", "identifiant_imilo", ("nom", "nom_recherche")]
    column_filters = [antenne_filter(m.Beneficiaire.antenne_id), "ressortissant_eee", "inscrit_france_travail",
                      "qpv", "rqth", "micro_entrepreneur", "tranche_fiscale", "protection_juridique",
                      "date_naissance", "date_fin_titre_sejour"]
    column_labels = {"nom_recherche": "Nom prénom", "compte_debiteur": "Reversements"}
    column_formatters = {"compte_debiteur": lien_compte_debiteur}  # the debtor's account (R47)
    form_columns = ["identifiant_imilo", "nom", "prenom", "date_naissance", "antenne", "email", "telephone",
                    "adresse", "code_postal", "ville", "ressortissant_eee", "numero_agdref", "date_fin_titre_sejour",
                    "inscrit_france_travail", "date_inscription_france_travail", "qpv", "rqth", "tranche_fiscale",
                    "protection_juridique", "reference_jugement", "micro_entrepreneur", "activite_micro",
                    "date_immatriculation_micro"]
    form_choices = {"activite_micro": ACTIVITES_MICRO}
    form_args = {"antenne": {"query_factory": refs.antennes()},
                 "email": {"filters": [lambda v: v.strip() if isinstance(v, str) else v]}}
    column_descriptions = {"numero_agdref": "Obligatoire hors EEE (R14).",
                           "date_fin_titre_sejour": "Obligatoire hors EEE (R14) ; borne la fin d'un PACEA (R17)."}

    def on_model_change(self, form, model, is_created):
        # The search key is always derived, never typed: "NOM PRENOM", upper case, no accents
        model.nom_recherche = cle_recherche(model.nom, model.prenom)
        if _conseiller():
            model.antenne_id = current_user.structure_id  # a conseiller files youths in their antenne only
        super().on_model_change(form, model, is_created)


class CompteBancaireView(SecureModelView):
    form_base_class = entities.CompteBancaireForm
    reauth_views = ("edit_view",)  # an IBAN is changed here
    column_list = ["id", "beneficiaire", "titulaire", "iban", "bic", "type_compte", "compte_joint", "actif"]
    column_details_list = ["id", "beneficiaire", "titulaire", "iban", "bic", "type_compte", "compte_joint",
                           "actif", "created_at", "updated_at"]
    column_searchable_list = ["iban", "titulaire", "beneficiaire.nom_recherche"]
    column_filters = ["type_compte", "compte_joint", "actif",
                      antenne_filter(m.Beneficiaire.antenne_id, "Antenne du jeune")]
    column_labels = {"beneficiaire.nom_recherche": "Nom du jeune"}
    column_formatters = {"iban": iban_groupes}
    form_columns = ["beneficiaire", "titulaire", "iban", "bic", "type_compte", "compte_joint", "actif"]
    form_overrides = {"iban": IbanField, "bic": BicField}
    form_ajax_refs = {"beneficiaire": refs.beneficiaire()}
    column_descriptions = {"type_compte": "Seul un compte courant est accepté (R38).",
                           "titulaire": "49 caractères au plus (R38) ; compte joint : avec le nom du jeune."}

    def after_money_routing_change(self, model, columns, is_created):
        # issue 12 §3: the cerfas the siège validated on this RIB are validated again (R39)
        if not is_created:
            cerfa_wf.renvoyer_en_validation(
                self.session, actor=current_user, compte_bancaire_ids=[model.id],
                motif=f"RIB n° {model.id} modifié ({', '.join(sorted(columns))}) : nouvelle validation du siège.")


def _actions(model):
    """The enrolment's actions (R8, R11, R12), one line each, with their count and hours."""
    from markupsafe import escape
    if not model.actions:
        return "—"
    heures = sum(a.heures or 0 for a in model.actions)
    lignes = Markup("<br>").join(
        escape(f"{a} — {a.type_evenement or ''}{f' — {a.heures} h' if a.heures else ''}"
               f"{f' — {a.domaine}' if a.domaine else ''}{f' — {a.libelle}' if a.libelle else ''}")
        for a in model.actions)
    total = f"{len(model.actions)} action(s)" + (f", {heures} h" if heures else "")
    return Markup("{}<br><small class=\"text-muted\">{}</small>").format(lignes, total)


class InscriptionView(SecureModelView):
    """Parcours. Opened by the form after the entry checks (workflows/parcours.py); renewed, closed and
    sanctioned by the row buttons of the PARCOURS workflow (issue 17), never by typing a status or an end."""

    form_base_class = entities.InscriptionForm
    column_list = ["id", "numero", "beneficiaire", "dispositif", "antenne", "date_debut", "date_fin_prevue",
                   "date_fin_reelle", "statut", "nb_renouvellements", "referent"]
    column_details_list = ["id", "numero", "beneficiaire", "dispositif", "antenne", "referent", "prescripteur",
                           "pilote", "date_premier_entretien", "date_debut", "date_fin_prevue", "date_fin_reelle",
                           "statut", "motif_sortie", "sortie_positive", "motif_cloture", "nb_renouvellements",
                           "signalement_france_travail", "dernier_contact", "niveau_cep", "nb_manquements",
                           "sanction_1_mois", "sanction_1_motif", "sanction_2_mois", "sanction_2_motif",
                           "justification_delai", "parrain", "date_acceptation_parrainage", "eligibilite_attestee",
                           "actions", "bilan_france_travail", "precedente", "created_at", "updated_at"]
    column_searchable_list = ["numero", "beneficiaire.nom_recherche", "beneficiaire.identifiant_imilo"]
    column_filters = ["statut", dispositif_filter(m.Inscription.dispositif_id), antenne_filter(m.Inscription.antenne_id),
                      "date_debut", "date_fin_prevue", "date_fin_reelle", "sortie_positive",
                      "signalement_france_travail", "dernier_contact", "bilan_france_travail"]
    column_labels = {"beneficiaire.nom_recherche": "Nom du jeune",
                     "beneficiaire.identifiant_imilo": "Identifiant i-milo",
                     "nb_renouvellements": "Renouvellements", "motif_cloture": "Motif de clôture",
                     "signalement_france_travail": "Signalé à France Travail (R16)",
                     "dernier_contact": "Dernier entretien (R16)", "niveau_cep": "Niveau CEP (R18)",
                     "nb_manquements": "Manquements (R37)", "date_premier_entretien": "Premier entretien (R7)",
                     "sanction_1_mois": "1re sanction : mois (-25 %)", "sanction_1_motif": "1re sanction : motif",
                     "sanction_2_mois": "2e sanction : mois (supprimé)", "sanction_2_motif": "2e sanction : motif",
                     "justification_delai": "Justification du délai (R7)", "parrain": "Parrain ou marraine (R8)",
                     "date_acceptation_parrainage": "Acceptation conjointe (R8)",
                     "eligibilite_attestee": "Lycéen professionnel en dernière année, sans poursuite d'études (R11)",
                     "actions": "Actions (R8, R11, R12)", "bilan_france_travail": "Bilan à France Travail (R11)"}
    column_formatters_detail = {"actions": lambda v, c, model, n: _actions(model)}
    # the end, the exit reason and the positive exit are set by « Clôturer » (R2, R3), never typed
    form_columns = ["numero", "beneficiaire", "dispositif", "referent", "prescripteur", "pilote",
                    "date_premier_entretien", "justification_delai", "parrain", "date_acceptation_parrainage",
                    "eligibilite_attestee", "date_debut", "date_fin_prevue", "precedente"]
    form_ajax_refs = {"beneficiaire": refs.beneficiaire(), "referent": refs.compte(),
                      "precedente": refs.inscription()}
    form_args = {"dispositif": {"query_factory": refs.scoped(m.Dispositif, where=lambda d: d.actif,
                                                             order_by=lambda d: d.code)},
                 "date_fin_prevue": {"validators": [Optional()]}}
    column_descriptions = {"date_fin_prevue": "Vide : la durée maximale du dispositif, bornée par la limite "
                                              "d'âge (CEJ : 26 ans) et, au PACEA, par la fin du titre de séjour (R17).",
                           "date_premier_entretien": "L'entretien individuel auquel le parcours est rattaché (R3) ; "
                                                     "le parcours se contractualise dans le mois, 3 au plus avec "
                                                     "une justification (R7).",
                           "justification_delai": "Obligatoire au-delà d'un mois après le premier entretien (R7).",
                           "parrain": "Parrainage : le parrain ou la marraine bénévole (R8).",
                           "date_acceptation_parrainage": "Parrainage : il débute après l'acceptation du jeune et "
                                                          "du parrain (R8).",
                           "eligibilite_attestee": "Avenir Pro : à cocher pour ouvrir (R11)."}
    editable_statuts = frozenset({InscriptionStatut.OUVERT, InscriptionStatut.RENOUVELE})
    editable_message = "Un parcours clôturé ne se modifie plus."

    # ---- R31: the control of self-employed income on its proof ------------------------------------------
    CONTROLEURS = (Role.COMPTABLE, Role.MANAGER)

    def extra_row_buttons(self, model):
        if getattr(current_user, "role", None) in self.CONTROLEURS and self._allowed("view"):
            return Markup('<a class="btn btn-outline-secondary btn-sm" data-action="controle-r31" href="{}">'
                          'Contrôle des revenus (R31)</a>').format(self.get_url(".controle_r31", ident=model.id))
        return Markup("")

    @expose("/controle-r31/<int:ident>", methods=["GET", "POST"])
    def controle_r31(self, ident):
        from flask import abort, flash
        from flask_wtf import FlaskForm
        from wtforms import DateField, StringField
        from wtforms.validators import DataRequired

        from .. import clock
        from ..i18n import format_montant
        from ..workflows.controle_r31 import controler_revenus_independant
        from ..workflows.errors import WorkflowError
        if current_user.role not in self.CONTROLEURS or not self._allowed("view"):
            abort(403)
        inscription = self.get_one(ident)  # scoped: out of scope is a 404
        if inscription is None:
            abort(404)

        def montant(form, field):
            from decimal import Decimal, InvalidOperation
            raw = (field.data or "").strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
            field.decimal = None
            if raw:
                try:
                    value = Decimal(raw)
                except InvalidOperation:
                    raise ValidationError("Montant invalide : chiffres et virgule, par exemple 1 250,00.") from None
                if not value.is_finite() or value < 0 or value > Decimal("999999.99") \
                        or value != value.quantize(Decimal("0.01")):
                    raise ValidationError("Montant invalide : positif, deux décimales au plus.")
                field.decimal = value

        form = type("ControleR31Form", (FlaskForm,), {
            "debut": DateField("Premier mois contrôlé (un jour du mois)", format="%Y-%m-%d",
                               validators=[DataRequired("« Premier mois » est obligatoire.")]),
            "fin": DateField("Dernier mois contrôlé (un jour du mois)", format="%Y-%m-%d",
                             validators=[DataRequired("« Dernier mois » est obligatoire.")]),
            "revenu_justifie": StringField("Revenu justifié sur la période (vide : aucun justificatif)",
                                           validators=[Optional(), montant]),
        })()
        resultat = None
        if form.validate_on_submit():
            try:
                resultat = controler_revenus_independant(
                    self.session, inscription_id=inscription.id, debut=form.debut.data, fin=form.fin.data,
                    revenu_justifie=getattr(form.revenu_justifie, "decimal", None), actor=current_user,
                    now=clock.now())
                self.session.commit()
            except WorkflowError as exc:
                self.session.rollback()
                flash(str(exc), "error")
            else:
                flash(f"Contrôle enregistré : {format_montant(resultat['indu'])} à reverser (R31).", "success")
        return self.render("admin/controle_r31.html", form=form, inscription=inscription, resultat=resultat,
                           beneficiaire=inscription.beneficiaire, format_montant=format_montant,
                           list_url=self.get_url(".index_view"))

    def on_model_change(self, form, model, is_created):
        # the entry checks (ages, France Travail R10/R13, AGDREF R14, R7, durations, R17, R20) and the
        # operating antenne, the youth's (denormalised for scope and filters)
        from .. import clock
        from ..workflows.errors import TransitionRefused
        from ..workflows.parcours import controler_inscription
        if not is_created and model.statut not in self.editable_statuts:
            raise ValidationError(self.editable_message)
        try:
            controler_inscription(self.session, model, is_created=is_created, today=clock.now().date())
        except TransitionRefused as exc:
            raise ValidationError(str(exc)) from None
        super().on_model_change(form, model, is_created)


class CerfaView(SecureModelView):
    related_sections = (
        Related("allocations", "Allocations de ce cerfa", "allocation", m.Allocation,
                lambda c: m.Allocation.cerfa_id == c.id, ("mois", "nature", "montant", "statut"),
                order=lambda: (m.Allocation.mois.desc(), m.Allocation.id.desc())),
    )
    form_base_class = entities.CerfaForm
    column_list = ["id", "numero", "inscription", "type_version", "date_signature", "date_reception",
                   "montant_prevu", "statut", "antenne"]
    column_details_list = ["id", "numero", "inscription", "antenne", "type_version", "date_signature",
                           "date_reception", "compte_bancaire", "titulaire_rib", "rib_imprime", "montant_prevu",
                           "duree_prevue_mois", "statut", "motif_refus", "precedent", "valide_siege_at",
                           "decision_asp_at", "created_at", "updated_at"]
    column_searchable_list = ["numero", "inscription.numero"]
    column_sortable_list = ["id", "numero", "statut"]  # sorts an index serves (issue 6)
    column_filters = ["statut", "type_version", antenne_filter(m.Cerfa.antenne_id), "date_signature",
                      "date_reception", "rib_imprime"]
    column_labels = {"inscription.numero": "N° de parcours"}
    form_columns = ["numero", "inscription", "type_version", "date_signature", "date_reception", "compte_bancaire",
                    "titulaire_rib", "rib_imprime", "montant_prevu", "duree_prevue_mois", "precedent"]
    form_ajax_refs = {"inscription": refs.inscription(), "compte_bancaire": refs.compte_bancaire(),
                      "precedent": refs.cerfa()}
    editable_statuts = frozenset({CerfaStatut.SAISI, CerfaStatut.SIGNE_RECU})
    editable_message = ("Un cerfa validé, transmis ou décidé ne se modifie plus : "
                        "établissez un cerfa correctif.")

    def on_model_change(self, form, model, is_created):
        if model.inscription is not None:
            model.antenne_id = model.inscription.antenne_id
        super().on_model_change(form, model, is_created)

    # ---- R49/R50: « Écrire à l'ASP » about a cerfa or an allocation ---------------------------------
    def extra_row_buttons(self, model):
        buttons = Markup("")
        if self._allowed("view") and current_user.role in (Role.CONSEILLER, Role.SIEGE, Role.MANAGER):
            buttons += Markup('<a class="btn btn-outline-secondary btn-sm" data-action="ecrire-payeur" '
                              'href="{}">Écrire à l\'ASP</a>').format(self.get_url(".ecrire_payeur", kind="cerfa",
                                                                                    ident=model.id))
        return buttons

    @expose("/payeur/<kind>/<int:ident>", methods=["GET", "POST"])
    def ecrire_payeur(self, kind, ident):
        """The payer's template (R49) filled from the file, after the blocking reason and the cerfa status
        are shown together (R50); queued in the mail outbox. Reached from a cerfa row or an allocation."""
        import sqlalchemy as sa
        from flask import abort, flash, redirect, request

        from .. import clock, policy
        from ..forms.actions import payeur_form
        from ..i18n import format_montant
        from ..workflows.errors import WorkflowError
        from ..workflows.parcours import ecrire_au_payeur
        if current_user.role not in (Role.CONSEILLER, Role.SIEGE, Role.MANAGER) or not self._allowed("view"):
            abort(403)
        allocation = cerfa = None
        if kind == "cerfa":
            cerfa = self.get_one(ident)  # scoped: another antenne's cerfa is a 404
        elif kind == "allocation":
            scope = policy.row_scope(m.Allocation, current_user)
            query = sa.select(m.Allocation).where(m.Allocation.id == ident)
            if scope is not None:
                query = query.where(scope)
            allocation = self.session.execute(query).scalar_one_or_none()
            if allocation is not None:
                cerfa = allocation.cerfa
        else:
            abort(404)
        if cerfa is None and allocation is None:
            abort(404)
        inscription = (allocation or cerfa).inscription
        form = payeur_form()()
        if request.method == "GET":
            form.objet.data = f"Allocation {allocation.mois:%m/%Y}" if allocation else f"Cerfa {cerfa.numero}"
        elif form.validate_on_submit():
            try:
                ecrire_au_payeur(self.session, actor=current_user, objet=form.objet.data, message=form.message.data,
                                 allocation_id=allocation.id if allocation else None,
                                 cerfa_id=None if allocation else cerfa.id, now=clock.now())
                self.session.commit()
            except WorkflowError as exc:
                self.session.rollback()
                flash(str(exc), "error")
            else:
                flash("Demande envoyée au siège, qui la transmet à l'ASP (R49, R50).", "success")
                return redirect(self.get_url(".index_view"))
        sujet = f"allocation n° {allocation.id} ({allocation.mois:%m/%Y})" if allocation else f"cerfa {cerfa.numero}"
        return self.render("admin/payeur.html", form=form, sujet=sujet, allocation=allocation, cerfa=cerfa,
                           inscription=inscription, beneficiaire=inscription.beneficiaire,
                           format_montant=format_montant, list_url=self.get_url(".index_view"))

    def after_money_routing_change(self, model, columns, is_created):
        # issue 12 §3: a cerfa validated by the siège and re-pointed to another RIB is validated again (R39)
        if not is_created:
            rib_id = getattr(model.compte_bancaire, "id", None)
            cerfa_wf.renvoyer_en_validation(
                self.session, actor=current_user, cerfa_ids=[model.id],
                motif=f"Cerfa n° {model.id} : RIB remplacé par le RIB n° {rib_id} : nouvelle validation du siège.")
