"""Base classes of the entity forms that Flask-Admin generates: cross-field checks, in French.

Flask-Admin builds each form from the model and derives it from the view's `form_base_class`; the
classes here add what a generated form cannot know: an IBAN's RIB key (through the fields), R14,
R38, R63, dates in order, a birth date in a sane range. Each error is attached to the field it is
about, so it shows next to it, and nothing is written. WTForms runs `validate_<field>` methods of a
base class on the generated subclass, and `validate()` below for checks across fields; a check
whose fields are absent from a given form (a role sees fewer fields) is skipped.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional, ValidationError

from .. import clock
from ..rules.identifiants import IdentifiantInvalide, verifier_titulaire
from .fields import MoneyField, normaliser_recherche

# (start, end, message) checked on every entity form that has both fields
DATE_PAIRS = [
    ("date_debut", "date_fin", "La date de fin doit être postérieure ou égale à la date de début."),
    ("date_debut", "date_fin_prevue", "La fin prévue doit être postérieure ou égale à la date de début."),
    ("date_debut", "date_fin_reelle", "La fin réelle doit être postérieure ou égale à la date de début."),
    ("date_signature", "date_reception", "La date de réception doit être postérieure ou égale à la signature."),
]


def _value(form, name):
    field = getattr(form, name, None)
    return None if field is None else field.data


def _error(form, name, message) -> bool:
    field = getattr(form, name, None)
    if field is None:
        return False
    if not isinstance(field.errors, list):
        field.errors = list(field.errors)
    if message not in field.errors:
        field.errors.append(message)
    return True


def age_le(naissance: date, jour: date) -> int:
    return jour.year - naissance.year - ((jour.month, jour.day) < (naissance.month, naissance.day))


def _enum_value(value):
    return getattr(value, "value", value)


class EntityForm(FlaskForm):
    """Every entity form: CSRF (FlaskForm) and dates in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Flask-Admin's Unique validator tells "this record" from "another record" through form._obj
        # (set by flask_admin.form.BaseForm, which a FlaskForm is not): without it every edit of a
        # row with a unique column (identifiant i-milo, SIRET, login…) would say "Existe déjà".
        self._obj = kwargs.get("obj")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for start, end, message in DATE_PAIRS:
            debut, fin = _value(self, start), _value(self, end)
            if isinstance(debut, date) and isinstance(fin, date) and fin < debut:
                ok = not _error(self, end, message) and ok
        return self.check(ok)

    def check(self, ok: bool) -> bool:
        """Cross-field checks of a subclass: add errors with `self.fail(field, message)`."""
        return ok

    def fail(self, name: str, message: str) -> bool:
        _error(self, name, message)
        return False


class BeneficiaireForm(EntityForm):
    AGE_MIN, AGE_MAX = 15, 30

    def validate_date_naissance(self, field):
        if field.data is None:
            return
        age = age_le(field.data, clock.now().date())
        if not self.AGE_MIN <= age <= self.AGE_MAX:
            raise ValidationError(
                f"Date de naissance hors limites : le jeune doit avoir entre {self.AGE_MIN} et {self.AGE_MAX} ans "
                f"aujourd'hui ({age} ans d'après cette date).")

    def check(self, ok):
        # R14: a youth from outside the EEA has an AGDREF number and a residence-permit end date
        if hasattr(self, "ressortissant_eee") and self.ressortissant_eee.data is False:
            if not _value(self, "numero_agdref"):
                ok = self.fail("numero_agdref", "N° AGDREF obligatoire pour un jeune hors EEE (R14).")
            if not _value(self, "date_fin_titre_sejour"):
                ok = self.fail("date_fin_titre_sejour",
                               "Date de fin du titre de séjour obligatoire pour un jeune hors EEE (R14).")
        protection = _enum_value(_value(self, "protection_juridique"))
        if protection in ("tutelle", "curatelle") and not _value(self, "reference_jugement"):
            ok = self.fail("reference_jugement",
                           "Sous tutelle ou curatelle, la référence du jugement est obligatoire (R38).")
        if _value(self, "micro_entrepreneur") and not _value(self, "activite_micro"):
            ok = self.fail("activite_micro", "Précisez l'activité de la micro-entreprise (R32).")
        return ok


class CompteBancaireForm(EntityForm):
    def validate_type_compte(self, field):
        value = _enum_value(field.data)
        if value == "livret_a":
            raise ValidationError("Un RIB de Livret A n'est pas accepté pour le versement des allocations (R38).")
        if value and value != "courant":
            raise ValidationError(
                "Seul le RIB d'un compte courant est accepté pour le versement des allocations (R38).")

    def validate_titulaire(self, field):
        if field.data is None:
            return
        try:
            # R38: ≤ 49 characters (the CEJ cerfa, the longer of the two; a PACEA cerfa checks its own 38)
            field.data = verifier_titulaire(field.data, "CEJ")
        except IdentifiantInvalide as exc:
            raise ValidationError(f"{exc.message} (R38)") from None

    def check(self, ok):
        beneficiaire = _value(self, "beneficiaire")
        titulaire = _value(self, "titulaire")
        if _value(self, "compte_joint") and beneficiaire is not None and titulaire:
            # R38: a joint account's title shows the youth's name
            if normaliser_recherche(beneficiaire.nom) not in normaliser_recherche(titulaire):
                ok = self.fail("titulaire", "Compte joint : l'intitulé du compte doit comporter le nom du jeune (R38).")
        return ok


class InscriptionForm(EntityForm):
    def check(self, ok):
        dispositif, motif = _value(self, "dispositif"), _value(self, "motif_sortie")
        if dispositif is not None and motif is not None and motif.dispositif_id != dispositif.id:
            ok = self.fail("motif_sortie", "Ce motif de sortie n'appartient pas à ce dispositif.")
        beneficiaire, precedente = _value(self, "beneficiaire"), _value(self, "precedente")
        if beneficiaire is not None and precedente is not None and precedente.beneficiaire_id != beneficiaire.id:
            ok = self.fail("precedente", "Le parcours précédent doit être celui du même jeune.")
        if _value(self, "date_fin_reelle") and not motif and hasattr(self, "motif_sortie"):
            ok = self.fail("motif_sortie", "Indiquez le motif de sortie du parcours terminé.")
        return ok


class CerfaForm(EntityForm):
    def check(self, ok):
        inscription = _value(self, "inscription")
        titulaire = _value(self, "titulaire_rib")
        if inscription is not None and titulaire:
            code = inscription.dispositif.code if inscription.dispositif is not None else "CEJ"
            try:
                # R38: ≤ 38 characters on the PACEA cerfa, ≤ 49 on the CEJ cerfa (E14)
                self.titulaire_rib.data = verifier_titulaire(titulaire, code if code in ("CEJ", "PACEA") else "CEJ")
            except IdentifiantInvalide as exc:
                ok = self.fail("titulaire_rib", f"{exc.message} (R38)")
        rib = _value(self, "compte_bancaire")
        if rib is not None and inscription is not None and rib.beneficiaire_id != inscription.beneficiaire_id:
            ok = self.fail("compte_bancaire", "Ce RIB n'appartient pas au jeune de ce parcours.")
        if _enum_value(_value(self, "type_version")) == "correctif" and not _value(self, "precedent") \
                and hasattr(self, "precedent"):
            ok = self.fail("precedent", "Un cerfa correctif indique le cerfa qu'il corrige.")
        return ok


class AllocationForm(EntityForm):
    def check(self, ok):
        inscription, cerfa = _value(self, "inscription"), _value(self, "cerfa")
        if inscription is not None and inscription.dispositif is not None \
                and not inscription.dispositif.allocation_autorisee:
            ok = self.fail("inscription", "Ce dispositif n'ouvre pas droit à une allocation (R6).")
        if cerfa is not None and inscription is not None and cerfa.inscription_id != inscription.id:
            ok = self.fail("cerfa", "Ce cerfa n'appartient pas à ce parcours.")
        return ok


class EtablissementForm(EntityForm):
    """R63: libellé de voie ≤ 28 characters, complément d'adresse ≤ 38 (the fields carry Length)."""


class AutorisationAPForm(EntityForm):
    def check(self, ok):
        nb = _value(self, "nb_salaries")
        if nb is not None and nb >= 50 and not _value(self, "avis_cse"):
            ok = self.fail("avis_cse", "À partir de 50 salariés, l'avis du CSE est obligatoire.")
        return ok


class PersonneDateeForm(EntityForm):
    """A person's birth date (volunteer, adult-relay employee) in a sane range."""

    NAISSANCE = ("volontaire_date_naissance", "salarie_date_naissance")

    def check(self, ok):
        aujourd_hui = clock.now().date()
        for name in self.NAISSANCE:
            naissance = _value(self, name)
            if isinstance(naissance, date) and not 14 <= age_le(naissance, aujourd_hui) <= 80:
                ok = self.fail(name, "Date de naissance hors limites : vérifiez l'année.")
        return ok


class CompteForm(EntityForm):
    def check(self, ok):
        if _enum_value(_value(self, "role")) == "conseiller" and hasattr(self, "structure") \
                and _value(self, "structure") is None:
            ok = self.fail("structure", "Un conseiller est rattaché à une antenne.")
        return ok


class CompteCreationForm(CompteForm):
    """A new account gets a temporary password, checked by R67, changed at first login (R66)."""

    def validate_mot_de_passe_provisoire(self, field):
        from ..rules.motdepasse import verifier_mot_de_passe

        erreurs = verifier_mot_de_passe(field.data or "", login=_value(self, "login"))
        if erreurs:
            raise ValidationError(" ".join(erreurs))


class DemandeHabilitationForm(EntityForm):
    """An added user requested by an establishment's main contact (R64): the e-mail typed twice (R63)."""

    def check(self, ok):
        email, confirmation = _value(self, "email"), _value(self, "confirmation_email")
        same = (email or "").strip().lower() == (confirmation or "").strip().lower()
        if hasattr(self, "confirmation_email") and not same:
            ok = self.fail("confirmation_email", "Les deux adresses e-mail ne sont pas identiques (R63).")
        return ok



def _ressource_choices():
    from ..rules.montants import TypeRessource
    return [("", "—")] + [(t.value, t.value) for t in TypeRessource]


def _ligne(k: int):
    label = "Ressource 1 du mois précédent (R28)" if k == 1 else f"Ressource {k}"
    return (SelectField(label, choices=_ressource_choices(), default=""),
            MoneyField(f"Montant {k} (€)", validators=[Optional()]))


class DemandeHorsDelaiForm(EntityForm):
    """R48: the missed month "as it should have been": up to three resource lines of M-1 (R28), from
    which the rules compute the amount the manager approves."""

    ressource_type_1, ressource_montant_1 = _ligne(1)
    ressource_type_2, ressource_montant_2 = _ligne(2)
    ressource_type_3, ressource_montant_3 = _ligne(3)

    def lignes(self):
        """[(type, montant)] of the filled lines."""
        out = []
        for k in (1, 2, 3):
            t = getattr(self, f"ressource_type_{k}").data
            if t:
                out.append((t, getattr(self, f"ressource_montant_{k}").data or Decimal("0")))
        return out

    def check(self, ok):
        for k in (1, 2, 3):
            t, m = getattr(self, f"ressource_type_{k}").data, getattr(self, f"ressource_montant_{k}").data
            if m and not t:
                ok = self.fail(f"ressource_type_{k}", "Choisissez le type de cette ressource.")
        return ok
