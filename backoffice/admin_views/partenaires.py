"""Partenaires (CNAF Afas, issue 15): declarations, venues, activity lines per venue, anomalies and their
justifications, habilitations (R56-R61, R78-R80).

A partner's user sees their service's rows only (policy.afas_scope) and changes only the part their
habilitation names (R60, workflows.afas.verifier_part): the activity provider the activity lines, the
financial provider the finances. Every save runs the checks and the estimate (R59, R78); the life cycle is
the DECLARATION workflow (row buttons and bulk actions, workflow_view.WORKFLOW_OF_VIEW).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectField, TextAreaField
from wtforms.validators import ValidationError

from .. import clock
from .. import models as m
from .. import policy
from ..i18n import format_montant
from ..models.enums import STATUT_LABELS, SourceEcheance, TypeStructure
from ..rules import afas as regles
from ..workflows import afas as afas_wf
from ..workflows import afas_items, afas_paiements
from ..workflows.errors import WorkflowError
from . import refs
from .base import SecureModelView
from .filters import structure_filter

FINANCES = ("budget", "charges", "produits")


def _changed(model, names) -> bool:
    state = sa.inspect(model)
    for name in names:
        hist = state.attrs[name].history
        if hist.has_changes() and (hist.deleted or [None])[0] != (hist.added or [None])[0]:
            return True
    return False


def _estimation(view, context, model, name):
    """R78 on screen: the droit with its computation (cost price per hour, ceiling, hours, 60 %)."""
    d = afas_wf.donnees(view.session, [model.id]).get(model.id)
    est = d.estimation() if d is not None else None
    if est is None:
        return Markup('<span id="estimation">Saisissez les charges pour voir l\'estimation du droit.</span>')
    return Markup('<span id="estimation">{} <br><small>{}</small></span>').format(
        format_montant(est.droit), est.detail())


def _anomalies(view, context, model, name):
    """R59: the anomalies, their kind, and their justification (or what is still to do)."""
    rows = sorted(model.anomalies, key=lambda a: (a.nature.value, a.code))
    if not rows:
        return Markup('<span id="anomalies">Aucune anomalie.</span>')
    out = [Markup('<table class="table table-sm" id="anomalies"><thead><tr><th>Code</th><th>Anomalie</th>'
                  '<th>Nature</th><th>Justification</th></tr></thead><tbody>')]
    for a in rows:
        if a.nature.value == regles.BLOQUANTE:
            just = Markup("<em>à corriger dans la déclaration</em>")
        elif a.justification:
            just = a.justification
        else:
            just = Markup('<a href="{}">à justifier</a>').format(view.get_url("anomalie.edit_view", id=a.id))
        out.append(Markup('<tr data-code="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>').format(
            a.code, a.code, a.libelle, "Bloquante" if a.nature.value == regles.BLOQUANTE else "Justifiable", just))
    out.append(Markup("</tbody></table>"))
    return Markup("").join(out)


def _activite(view, context, model, name):
    rows = sorted(model.lignes, key=lambda x: (x.lieu_id, x.semestre))
    if not rows:
        return Markup('<span id="activite">Aucune donnée d\'activité.</span>')
    out = [Markup('<table class="table table-sm" id="activite"><thead><tr><th>Lieu</th><th>Semestre</th>'
                  '<th class="text-right">Rencontres</th><th class="text-right">Entretiens</th>'
                  '<th class="text-right">Organisation</th></tr></thead><tbody>')]
    for x in rows:
        out.append(Markup('<tr><td>{}</td><td>{}</td><td class="text-right">{}</td><td class="text-right">{}</td>'
                          '<td class="text-right">{}</td></tr>').format(
            str(x.lieu), x.semestre, x.heures_rencontres, x.heures_entretiens, x.heures_organisation))
    out.append(Markup("</tbody></table>"))
    return Markup("").join(out)


def _items(view, context, model, name):
    """R57: the yearly items of an actual declaration, their values, and the link to fill them in."""
    if model.type.value != "reelle":
        return Markup('<span id="items-annuels">Sans objet (déclaration réelle seulement).</span>')
    vals = afas_items.valeurs(view.session, model.id)
    items = afas_items.items_actifs(view.session)
    faits = sum(1 for it in items if it.id in vals and (vals[it.id].valeur_nombre, vals[it.id].valeur_texte)
                != (None, None))
    lien = Markup("")
    if model.statut in afas_wf.MODIFIABLES and view._allowed("edit"):
        lien = Markup(' <a class="btn btn-sm btn-outline-primary" id="saisir-items" href="{}">'
                      'Saisir les données annuelles</a>').format(view.get_url(".items_view", id=model.id))
    out = [Markup('<div id="items-annuels"><p>{} sur {} renseignée(s).{}</p>'
                  '<table class="table table-sm"><tbody>').format(faits, len(items), lien)]
    for it in items:
        v = vals.get(it.id)
        texte = "" if v is None else (v.valeur_texte or regles.format_nombre(v.valeur_nombre, it.type))
        out.append(Markup('<tr data-code="{}"><td>{}</td><td>{}</td></tr>').format(it.code, it.libelle,
                                                                               texte or "—"))
    out.append(Markup("</tbody></table></div>"))
    return Markup("").join(out)


def _paiements(view, context, model, name):
    """R79: what this declaration made payable in the payment chain, and where it stands."""
    rows = view.session.execute(
        sa.select(m.Echeance.id, m.Echeance.source_type, m.Echeance.periode, m.Echeance.montant, m.Echeance.statut)
        .where(m.Echeance.source_type.in_([SourceEcheance.AFAS_ACOMPTE, SourceEcheance.AFAS_SOLDE]),
               m.Echeance.source_id == model.id).order_by(m.Echeance.periode)).all()
    out = [Markup('<table class="table table-sm" id="paiements-afas"><tbody>')]
    for r in rows:
        quoi = ("Solde" if r.source_type.value == "afas_solde" else
                "2e acompte" if r.periode.month == afas_paiements.PERIODE_ACOMPTE["acompte_2"] else "1er acompte")
        out.append(Markup('<tr data-echeance="{}"><td>{}</td><td class="text-right">{}</td><td>{}</td></tr>').format(
            r.id, quoi, format_montant(r.montant), STATUT_LABELS.get(r.statut.value, r.statut.value)))
    if model.reversement_id is not None:
        o = view.session.get(m.Reversement, model.reversement_id)
        out.append(Markup('<tr data-reversement="{}"><td>Ordre de reversement {}</td><td class="text-right">{}</td>'
                          '<td>{}</td></tr>').format(o.id, o.numero, format_montant(o.montant),
                                                     STATUT_LABELS.get(o.statut.value, o.statut.value)))
    if len(out) == 1:
        return Markup('<span id="paiements-afas">Rien n\'est encore à payer pour cette déclaration.</span>')
    out.append(Markup("</tbody></table>"))
    return Markup("").join(out)


class DeclarationPartenaireView(SecureModelView):
    column_list = ["id", "partenaire", "exercice", "type", "statut", "budget", "charges", "produits",
                   "droit_estime", "droit_retenu", "approuvee_par"]
    column_details_list = ["id", "partenaire", "exercice", "type", "statut", "estimation", "activite", "budget",
                           "charges", "produits", "anomalies", "droit_estime", "droit_retenu", "motif_droit",
                           "motif_renvoi", "items", "approuvee_par", "approuvee_at", "transmise_at", "traitee_at",
                           "acompte_1", "acompte_2", "solde", "paiements", "created_at", "updated_at"]
    column_export_list = column_list + ["acompte_1", "acompte_2", "solde"]
    column_searchable_list = ["partenaire.nom"]
    column_filters = ["statut", "type", "exercice",
                      structure_filter(m.DeclarationPartenaire.partenaire_id, "Partenaire", [TypeStructure.PARTENAIRE_AFAS])]
    column_labels = {"partenaire.nom": "Partenaire", "estimation": "Estimation du droit (R78)",
                     "activite": "Données d'activité", "anomalies": "Anomalies (R59)", "droit_retenu": "Droit retenu",
                     "motif_droit": "Motif du droit retenu", "motif_renvoi": "Motif du renvoi",
                     "acompte_1": "1er acompte", "acompte_2": "2e acompte", "solde": "Solde (négatif : à reverser)",
                     "items": "Données annuelles (R57)", "paiements": "Paiements (R79)"}
    column_formatters = {"estimation": _estimation, "anomalies": _anomalies, "activite": _activite,
                         "items": _items, "paiements": _paiements}
    # the estimate is computed (R78) and the approver written by the approval transition
    form_columns = ["partenaire", "exercice", "type", "budget", "charges", "produits"]
    form_args = {"partenaire": {"query_factory": refs.structures(TypeStructure.PARTENAIRE_AFAS)},
                 "exercice": {"description": "Année de l'exercice (AAAA)."}}
    editable_statuts = afas_wf.MODIFIABLES
    editable_message = "Une déclaration approuvée ou transmise ne se modifie plus."

    def create_model(self, form):
        """R56: one forecast, one actual (and one actualisation) per year, by a user of the service."""
        partenaire = form.partenaire.data
        try:
            d = afas_wf.creer_declaration(self.session, actor=current_user,
                                          partenaire_id=getattr(partenaire, "id", None), exercice=form.exercice.data,
                                          type=form.type.data, now=clock.now())
            values = {k: getattr(form, k).data for k in FINANCES if getattr(form, k).data is not None}
            if values:
                afas_wf.verifier_part(self.session, current_user, d.partenaire_id, afas_wf.PART_FINANCES)
                for k, v in values.items():
                    setattr(d, k, v)
            afas_wf.enregistrer(self.session, [d.id], actor=current_user, now=clock.now(),
                                part=afas_wf.PART_FINANCES if values else None)
            self.session.commit()
        except (WorkflowError, ValueError) as exc:
            self.session.rollback()
            flash(str(exc), "error")
            return False
        return d

    def on_model_change(self, form, model, is_created):
        try:
            if not is_created:
                if _changed(model, ("partenaire_id", "exercice", "type")) or _changed_rel(model, "partenaire"):
                    raise WorkflowError("Le service, l'exercice et le type d'une déclaration ne changent pas (R56).")
                if _changed(model, FINANCES):  # R60: the financial provider's part
                    afas_wf.verifier_part(self.session, current_user, model.partenaire_id, afas_wf.PART_FINANCES)
        except WorkflowError as exc:
            raise ValidationError(str(exc)) from None
        self._finances = _changed(model, FINANCES)
        super().on_model_change(form, model, is_created)

    def after_model_change(self, form, model, is_created):
        afas_wf.enregistrer(self.session, [model.id], actor=current_user, now=clock.now(),
                            part=afas_wf.PART_FINANCES if getattr(self, "_finances", False) else None)
        self.session.commit()
        super().after_model_change(form, model, is_created)

    @expose("/suivi")
    def suivi(self):
        """The partner's tableau de suivi (issue 15 §7): declarations by year and status, droit estimated,
        retained, made payable, and paid by the payment chain (its payables « payée »)."""
        q = (sa.select(m.DeclarationPartenaire).order_by(m.DeclarationPartenaire.exercice.desc(),
                                                         m.DeclarationPartenaire.type).limit(500))
        if (c := policy.row_scope(m.DeclarationPartenaire, current_user)) is not None:
            q = q.where(c)
        declarations = self.session.execute(q).scalars().all()
        return self.render("admin/afas_suivi.html", declarations=declarations,
                           verse=afas_paiements.verse_par_declaration(self.session, [d.id for d in declarations]),
                           format_montant=format_montant,
                           statut_label=lambda v: STATUT_LABELS.get(getattr(v, "value", v), v))

    @expose("/donnees-annuelles/<int:id>", methods=["GET", "POST"])
    def items_view(self, id):
        """R57: the yearly items of an actual declaration, typed in by the provider of each part (R60); every
        value checked against its item's bounds, nothing written when one is wrong."""
        if not self._allowed("edit"):
            abort(403)
        decl = self.get_one(str(id))
        if decl is None:
            abort(404)
        items = afas_items.items_actifs(self.session)
        if current_user.role.value == "partenaire":
            habs = {h.value for h in afas_wf.habilitations(self.session, current_user.id, decl.partenaire_id)}
            parts = {p for p, h in (("activite", "fournisseur_activite"), ("finances", "fournisseur_financier"))
                     if h in habs}
        else:
            parts = {"activite", "finances"}
        erreurs, saisie = [], {}
        if request.method == "POST":
            saisie = {it.code: request.form.get(f"item-{it.code}", "") for it in items if it.part.value in parts}
            try:
                n = afas_items.saisir_items(self.session, actor=current_user, declaration_id=decl.id, saisie=saisie,
                                            now=clock.now())
                self.session.commit()
            except afas_items.ItemsRefuses as exc:
                self.session.rollback()
                erreurs = exc.erreurs
            except (WorkflowError, ValueError) as exc:
                self.session.rollback()
                erreurs = [str(exc)]
            else:
                flash(f"{n} donnée(s) annuelle(s) enregistrée(s).", "success")
                return redirect(self.get_url(".details_view", id=decl.id))
            decl = self.get_one(str(id))
        vals = afas_items.valeurs(self.session, decl.id)
        lignes = []
        for it in items:
            v = vals.get(it.id)
            courant = "" if v is None else (v.valeur_texte or regles.format_nombre(v.valeur_nombre, it.type))
            lignes.append({"item": it, "valeur": saisie.get(it.code, courant), "modifiable": it.part.value in parts,
                           "bornes": _bornes(it)})
        return self.render("admin/afas_items.html", declaration=decl, lignes=lignes, erreurs=erreurs,
                           retour=self.get_url(".details_view", id=decl.id))


def _bornes(it) -> str:
    kind = it.type.value
    if kind == "oui_non":
        return "oui ou non"
    if kind == "texte":
        return f"{int(it.maximum)} caractères au plus" if it.maximum is not None else "texte libre"
    lo, hi = (regles.format_nombre(x, kind) for x in (it.minimum, it.maximum))
    if lo and hi:
        return f"de {lo} à {hi}"
    return f"{lo} au moins" if lo else (f"{hi} au plus" if hi else "")


class ItemAnnuelAfasView(SecureModelView):
    """R57: the yearly items of the actual declaration, as data: the administrator adds, changes or retires one
    here (no migration); the checks and the entry form read them at once."""

    column_list = ["ordre", "code", "libelle", "type", "part", "minimum", "maximum", "obligatoire", "actif"]
    column_details_list = column_list + ["aide", "created_at", "updated_at"]
    column_default_sort = ("ordre", False)
    column_searchable_list = ["code", "libelle"]
    column_filters = ["type", "part", "obligatoire", "actif"]
    column_labels = {"libelle": "Libellé", "part": "Fournisseur", "minimum": "Minimum",
                     "maximum": "Maximum (texte : longueur)", "obligatoire": "Obligatoire", "ordre": "Ordre",
                     "aide": "Aide"}
    form_columns = ["code", "libelle", "type", "part", "minimum", "maximum", "obligatoire", "actif", "ordre", "aide"]
    column_descriptions = {"actif": "Une donnée retirée n'est plus demandée ; ses valeurs déjà saisies restent."}

    def on_model_change(self, form, model, is_created):
        if model.minimum is not None and model.maximum is not None and model.minimum > model.maximum:
            raise ValidationError("Le minimum dépasse le maximum.")
        if model.type is not None and model.type.value == "texte" and model.minimum is not None:
            raise ValidationError("Une donnée texte n'a qu'une longueur maximale.")
        super().on_model_change(form, model, is_created)


def _changed_rel(model, name) -> bool:
    hist = sa.inspect(model).attrs[name].history
    before = [getattr(x, "id", None) for x in hist.deleted or []]
    after = [getattr(x, "id", None) for x in hist.added or []]
    return bool(hist.deleted) and before != after


class LieuAccueilView(SecureModelView):
    column_list = ["id", "nom", "partenaire", "mode", "commune", "ouvert_le", "ferme_le"]
    column_details_list = column_list + ["created_at"]
    column_searchable_list = ["nom", "commune"]
    column_filters = ["mode", structure_filter(m.LieuAccueil.partenaire_id, "Partenaire",
                                               [TypeStructure.PARTENAIRE_AFAS])]
    column_labels = {"ouvert_le": "Ouvert le", "ferme_le": "Fermé le"}
    form_columns = ["partenaire", "nom", "mode", "commune", "ouvert_le", "ferme_le"]
    form_args = {"partenaire": {"query_factory": refs.structures(TypeStructure.PARTENAIRE_AFAS)}}

    def on_model_change(self, form, model, is_created):
        """R58: single venue, or all in itinérance, or all as antennes."""
        partenaire_id = model.partenaire.id if model.partenaire is not None else model.partenaire_id
        try:
            if model.ferme_le is None or is_created:
                afas_wf.verifier_structure(self.session, partenaire_id, ajout_mode=model.mode,
                                           sauf_id=None if is_created else model.id, le=model.ouvert_le)
        except WorkflowError as exc:
            raise ValidationError(str(exc)) from None
        super().on_model_change(form, model, is_created)


def _declaration_de(session, model):
    declaration_id = model.declaration.id if model.declaration is not None else model.declaration_id
    with session.no_autoflush:
        return session.get(m.DeclarationPartenaire, declaration_id) if declaration_id else None


class LigneActiviteView(SecureModelView):
    column_list = ["id", "declaration", "lieu", "semestre", "heures_rencontres", "heures_entretiens",
                   "heures_organisation"]
    column_details_list = column_list
    column_filters = ["semestre", "declaration_id"]
    column_labels = {"declaration_id": "N° de déclaration"}
    form_columns = ["declaration", "lieu", "semestre", "heures_rencontres", "heures_entretiens",
                    "heures_organisation"]
    form_ajax_refs = {"declaration": refs.declaration(), "lieu": refs.lieu_accueil()}
    form_overrides = {"semestre": SelectField}
    form_args = {"semestre": {"choices": [(1, "1er semestre"), (2, "2e semestre")], "coerce": int}}

    def _verifier(self, model):
        """R60: the activity provider of the service; the declaration still being filled in; a venue of the
        same service (R58: activity per venue)."""
        decl = _declaration_de(self.session, model)
        if decl is None:
            raise WorkflowError("Choisissez la déclaration.")
        clause = policy.row_scope(m.DeclarationPartenaire, current_user)
        if clause is not None and not self.session.execute(sa.select(sa.exists().where(
                m.DeclarationPartenaire.id == decl.id, clause))).scalar():
            raise WorkflowError("Déclaration introuvable.")
        afas_wf.verifier_part(self.session, current_user, decl.partenaire_id, afas_wf.PART_ACTIVITE)
        afas_wf.verifier_modifiable(decl)
        lieu = model.lieu
        if lieu is not None and lieu.partenaire_id != decl.partenaire_id:
            raise WorkflowError("Ce lieu d'accueil n'est pas un lieu du service de la déclaration (R58).")
        return decl

    def on_model_change(self, form, model, is_created):
        try:
            decl = self._verifier(model)
        except WorkflowError as exc:
            raise ValidationError(str(exc)) from None
        self._decl_id = decl.id
        super().on_model_change(form, model, is_created)

    def after_model_change(self, form, model, is_created):
        afas_wf.enregistrer(self.session, [self._decl_id], actor=current_user, now=clock.now(),
                            part=afas_wf.PART_ACTIVITE)
        self.session.commit()
        super().after_model_change(form, model, is_created)

    def on_model_delete(self, model):
        try:
            self._decl_id = self._verifier(model).id
        except WorkflowError as exc:
            raise ValidationError(str(exc)) from None

    def after_model_delete(self, model):
        afas_wf.enregistrer(self.session, [self._decl_id], actor=current_user, now=clock.now(),
                            part=afas_wf.PART_ACTIVITE)
        self.session.commit()


class AnomalieView(SecureModelView):
    """R59: anomalies come from the checks (never typed); a justifiable one is justified here."""

    column_list = ["id", "declaration", "code", "nature", "libelle", "justification"]
    column_details_list = column_list + ["justifiee_at"]
    column_searchable_list = ["code", "libelle"]
    column_filters = ["code", "nature", "declaration_id"]
    column_labels = {"declaration_id": "N° de déclaration", "justifiee_at": "Justifiée le"}
    form_columns = ["justification"]
    form_overrides = {"justification": TextAreaField}
    column_descriptions = {"justification": "Une anomalie justifiable est justifiée avant la transmission ; "
                                            "une anomalie bloquante se corrige dans la déclaration (R59)."}

    def update_model(self, form, model):
        texte = form.justification.data
        self.session.expire(model)
        try:
            afas_wf.justifier(self.session, actor=current_user, anomalie_id=model.id, justification=texte,
                              now=clock.now())
            self.session.commit()
        except WorkflowError as exc:
            self.session.rollback()
            flash(str(exc), "error")
            return False
        return True


class HabilitationAfasView(SecureModelView):
    """R60: the Caf names the activity provider, the financial provider and the approver of a service."""

    column_list = ["id", "compte", "partenaire", "role", "created_at"]
    column_details_list = column_list
    column_filters = ["role", structure_filter(m.HabilitationAfas.partenaire_id, "Partenaire",
                                               [TypeStructure.PARTENAIRE_AFAS])]
    column_labels = {"compte": "Utilisateur", "partenaire": "Service", "role": "Habilitation"}
    form_columns = ["compte", "partenaire", "role"]
    form_ajax_refs = {"compte": refs.compte()}
    form_args = {"partenaire": {"query_factory": refs.structures(TypeStructure.PARTENAIRE_AFAS)}}

    def create_model(self, form):
        try:
            h = afas_wf.habiliter(self.session, actor=current_user, compte_id=getattr(form.compte.data, "id", None),
                                  partenaire_id=getattr(form.partenaire.data, "id", None), role=form.role.data)
            self.session.commit()
        except (WorkflowError, ValueError) as exc:
            self.session.rollback()
            flash(str(exc), "error")
            return False
        return h

