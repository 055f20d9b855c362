"""WTForms fields for the entity forms: amounts, decimals, months, French dates, IBAN, BIC, SIRET/SIREN, NIR.

Each field parses what a French user types and refuses the rest with a French message shown next to
it. The checksums come from the libraries (schwifty, python-stdnum) through backoffice.rules.identifiants;
nothing here re-implements them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from wtforms import DateField, DecimalField, StringField, TextAreaField
from wtforms.validators import Email, InputRequired, Length, StopValidation, ValidationError
from wtforms.widgets import TextInput

from ..models.base import MONEY_MAX
from ..rules.identifiants import IdentifiantInvalide, verifier_iban, verifier_siren, verifier_siret

# --- search keys ---------------------------------------------------------------------------------

_LIGATURES = str.maketrans({"Œ": "OE", "œ": "OE", "Æ": "AE", "æ": "AE", "ß": "SS"})
_ESPACES = re.compile(r"\s+")


def normaliser_recherche(texte: str | None) -> str:
    """Upper case, no accents, single spaces: « Léa  d'Estaing » → « LEA D'ESTAING »."""
    texte = (texte or "").translate(_LIGATURES)
    texte = "".join(c for c in unicodedata.normalize("NFKD", texte) if not unicodedata.combining(c))
    return _ESPACES.sub(" ", texte).strip().upper()


def cle_recherche(nom: str | None, prenom: str | None) -> str:
    """Beneficiaire.nom_recherche: « NOM PRENOM », served by a btree index for prefix search."""
    return normaliser_recherche(f"{nom or ''} {prenom or ''}")[:170]


# --- numbers -------------------------------------------------------------------------------------

_SEPARATEURS = re.compile(r"[\s\u00a0\u202f€]")
_NOMBRE = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")  # ASCII only: \d matches « ١٢٣ »
_NON_FINI = re.compile(r"[+-]?(nan|s?nan|inf|infinity|infini)", re.IGNORECASE)


class DecimalSaisieField(DecimalField):
    """A decimal typed the French way (« 1 234,56 » or « 1234.56 »), never a float.

    NaN, infinities and exponents (« 1e3 ») are refused: Python's Decimal() would accept them and
    PostgreSQL's NUMERIC stores 'NaN'.
    """

    widget = TextInput()
    msg_invalide = "Nombre invalide : saisissez un nombre comme 1 234,56."
    msg_non_fini = "Nombre invalide : NaN et l'infini ne sont pas acceptés."
    msg_exposant = "Nombre invalide : la notation scientifique (par exemple 1e3) n'est pas acceptée."
    msg_decimales = "Au plus {places} décimales."
    msg_minimum = "La valeur ne peut pas être inférieure à {minimum}."
    msg_maximum = "La valeur ne peut pas dépasser {maximum}."

    def __init__(self, label=None, validators=None, places=2, minimum=Decimal("0"), maximum=None, **kwargs):
        kwargs.pop("rounding", None)
        render_kw = dict(kwargs.pop("render_kw", None) or {})
        render_kw.setdefault("inputmode", "decimal")
        render_kw.setdefault("autocomplete", "off")
        super().__init__(label, validators, places=places, render_kw=render_kw, **kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        brut = _SEPARATEURS.sub("", valuelist[0] or "")
        if brut == "":
            return
        if _NON_FINI.fullmatch(brut):
            raise ValueError(self.msg_non_fini)
        if "e" in brut.lower():
            raise ValueError(self.msg_exposant)
        if not _NOMBRE.fullmatch(brut):
            raise ValueError(self.msg_invalide)
        try:
            valeur = Decimal(brut.replace(",", "."))
        except InvalidOperation:
            raise ValueError(self.msg_invalide) from None
        if self.places is not None and -valeur.as_tuple().exponent > self.places:
            raise ValueError(self.msg_decimales.format(places=self.places))
        if self.minimum is not None and valeur < self.minimum:
            raise ValueError(self.msg_minimum.format(minimum=_fr(self.minimum)))
        if self.maximum is not None and valeur > self.maximum:
            raise ValueError(self.msg_maximum.format(maximum=_fr(self.maximum)))
        self.data = valeur

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        if self.places is not None:
            return f"{Decimal(self.data):.{self.places}f}".replace(".", ",")
        return str(self.data).replace(".", ",")


class MoneyField(DecimalSaisieField):
    """An amount in euros: 2 decimals, ≥ 0 by default, at most the Money column's bound."""

    msg_invalide = "Montant invalide : saisissez un montant comme 1 234,56."
    msg_non_fini = "Montant invalide : NaN et l'infini ne sont pas des montants."
    msg_exposant = "Montant invalide : la notation scientifique (par exemple 1e3) n'est pas acceptée."
    msg_decimales = "Au plus 2 décimales (les centimes)."
    msg_minimum = "Le montant ne peut pas être négatif."
    msg_maximum = "Montant trop élevé : au plus {maximum} €."

    def __init__(self, label=None, validators=None, allow_negative=False, **kwargs):
        kwargs.pop("places", None)
        super().__init__(label, validators, places=2,
                         minimum=-MONEY_MAX if allow_negative else Decimal("0"), maximum=MONEY_MAX, **kwargs)


def _fr(valeur: Decimal) -> str:
    """9999999999.99 → « 9 999 999 999,99 »."""
    entier, _, decimales = f"{abs(valeur):f}".partition(".")
    groupes = []
    while entier:
        groupes.insert(0, entier[-3:])
        entier = entier[:-3]
    texte = ("-" if valeur < 0 else "") + "\u202f".join(groupes or ["0"])
    return f"{texte},{decimales}" if decimales else texte


# --- dates and months ----------------------------------------------------------------------------


class FrDateField(DateField):
    """JJ/MM/AAAA (the date picker's format), AAAA-MM-JJ also accepted."""

    def __init__(self, label=None, validators=None, format=("%d/%m/%Y", "%Y-%m-%d"), **kwargs):
        super().__init__(label, validators, format=list(format), **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        texte = " ".join(valuelist).strip()
        if not texte:
            self.data = None
            return
        for fmt in self.format:
            try:
                self.data = datetime.strptime(texte, fmt).date()
            except ValueError:
                continue
            if not 1900 <= self.data.year <= 2100:
                self.data = None
                raise ValueError("Date hors des limites (1900 à 2100).")
            return
        self.data = None
        raise ValueError("Date invalide : saisissez-la au format JJ/MM/AAAA.")


_MOIS = [
    (re.compile(r"(\d{1,2})[/.-](\d{4})", re.ASCII), lambda m: (int(m[2]), int(m[1]))),
    (re.compile(r"(\d{4})-(\d{1,2})", re.ASCII), lambda m: (int(m[1]), int(m[2]))),
    (re.compile(r"\d{1,2}/(\d{1,2})/(\d{4})", re.ASCII), lambda m: (int(m[2]), int(m[1]))),
    (re.compile(r"(\d{4})-(\d{1,2})-\d{1,2}", re.ASCII), lambda m: (int(m[1]), int(m[2]))),
]


def parse_mois(texte: str | None) -> date:
    """« 04/2025 », « 2025-04 » (or a full date) → date(2025, 4, 1); ValueError in French otherwise."""
    texte = (texte or "").strip()
    for motif, extraire in _MOIS:
        m = motif.fullmatch(texte)
        if m:
            annee, mois = extraire(m)
            if not 1 <= mois <= 12 or not 2000 <= annee <= 2100:
                break
            return date(annee, mois, 1)
    raise ValueError("Mois invalide : saisissez-le au format MM/AAAA (par exemple 04/2025).")


class MoisField(StringField):
    """A month typed MM/AAAA, stored as its first day."""

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = dict(kwargs.pop("render_kw", None) or {})
        render_kw.setdefault("placeholder", "MM/AAAA")
        kwargs.pop("widget", None)
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.data = None
            return
        self.data = None
        self.data = parse_mois(valuelist[0])

    def process_data(self, value):
        self.data = value.replace(day=1) if isinstance(value, date) else value

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime("%m/%Y") if isinstance(self.data, date) else ""


# --- identifiers ---------------------------------------------------------------------------------


class _IdentifiantField(StringField):
    """Checks and compacts an identifier in pre_validate, so the message sits next to the field."""

    def verifier(self, valeur: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = self.data.strip() or None

    def pre_validate(self, form):
        if self.data:
            try:
                self.data = self.verifier(self.data)
            except IdentifiantInvalide as exc:
                raise ValidationError(exc.message) from None


class IbanField(_IdentifiantField):
    """IBAN checked by schwifty with validate_bban=True (French RIB key included, R76); stored compact."""

    def verifier(self, valeur: str) -> str:
        return verifier_iban(valeur)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        data = self.data or ""
        return " ".join(data[i:i + 4] for i in range(0, len(data), 4))


class BicField(_IdentifiantField):
    """BIC (8 or 11 characters) checked by schwifty.BIC; optional in the forms."""

    def verifier(self, valeur: str) -> str:
        from schwifty import BIC
        from schwifty.exceptions import SchwiftyException

        compact = re.sub(r"\s+", "", valeur).upper()
        try:
            return str(BIC(compact))
        except SchwiftyException:
            raise IdentifiantInvalide(
                "BIC invalide : 8 ou 11 caractères (banque, pays, localité, agence), par exemple AGRIFRPP.") from None


class SiretField(_IdentifiantField):
    """SIRET by python-stdnum (Luhn, valid SIREN, La Poste exception, R75); stored as 14 digits."""

    def verifier(self, valeur: str) -> str:
        return verifier_siret(valeur)


class SirenField(_IdentifiantField):
    def verifier(self, valeur: str) -> str:
        return verifier_siren(valeur)


class NirField(_IdentifiantField):
    """French social-security number (NIR) by python-stdnum, 15 characters with its key."""

    def verifier(self, valeur: str) -> str:
        from stdnum import exceptions
        from stdnum.fr import nir

        try:
            return nir.validate(valeur)
        except exceptions.ValidationError:
            raise IdentifiantInvalide(
                "N° de sécurité sociale invalide : 15 chiffres, clé comprise (vérifiez la clé).") from None


# --- free text (finding 8, issue 12) ---------------------------------------------------------------
# Every text field of every form gets the same hygiene: trimmed, control characters refused (tab and
# newline only in a multi-line field), a required one refused when blank, a maximum length, an e-mail
# address checked. admin_views/converters.py applies it to every String column of the generated forms,
# forms/actions.py to the workflow parameters, forms/auth.py to the login and recovery fields.

# C0 and C1 controls, DEL, line/paragraph separators, bidi overrides and isolates; \t \n \r apart
_CONTROLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FIN_DE_LIGNE = re.compile("[\t\n\r]")
MSG_CONTROLE = "Caractère de contrôle interdit (caractère invisible, tabulation ou retour à la ligne)."
MSG_CONTROLE_MULTILIGNE = "Caractère de contrôle interdit (caractère invisible)."
MSG_OBLIGATOIRE = "Ce champ est obligatoire."
MSG_EMAIL = "Adresse e-mail invalide : saisissez une adresse comme prenom.nom@exemple.fr."


def nettoyer(valeur):
    """Filter: text trimmed (spaces, non-breaking spaces, tabs, newlines at both ends)."""
    return valeur.strip() if isinstance(valeur, str) else valeur


def vide_en_none(valeur):
    return None if valeur == "" else valeur


def controles(valeur: str, multiligne: bool = False) -> bool:
    """Whether `valeur` holds a control character (tab/newline allowed in a multi-line text)."""
    if not isinstance(valeur, str):
        return False
    return bool(_CONTROLE.search(valeur) or (not multiligne and _FIN_DE_LIGNE.search(valeur)))


class SansControle:
    """Validator: no control character (NUL, escape, bidi override…); tab and newline only if multi-line."""

    def __init__(self, multiligne: bool = False):
        self.multiligne = multiligne

    def __call__(self, form, field):
        if controles(field.data, self.multiligne):
            raise StopValidation(MSG_CONTROLE_MULTILIGNE if self.multiligne else MSG_CONTROLE)


class Obligatoire(InputRequired):
    """InputRequired that also refuses a value made of spaces only (checked after trimming)."""

    def __init__(self, message=None):
        super().__init__(message or MSG_OBLIGATOIRE)

    def __call__(self, form, field):
        super().__call__(form, field)
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            field.errors[:] = []
            raise StopValidation(self.message)


def longueur(max_length: int) -> Length:
    return Length(max=max_length, message=f"{max_length} caractères au plus.")


def courriel() -> Email:
    return Email(MSG_EMAIL)


def _est_email(nom: str) -> bool:
    return nom == "email" or nom.endswith("_email") or nom in ("destinataire",)


def texte_saisi(unbound, *, nom: str, max_length: int | None, obligatoire: bool, nullable: bool):
    """The hygiene above added to a WTForms UnboundField (a generated form field), in place."""
    kwargs = unbound.kwargs
    multiligne = issubclass(unbound.field_class, TextAreaField)
    validators = [v for v in (kwargs.get("validators") or [])
                  if not (type(v) is InputRequired and obligatoire)]
    # first in the chain (StopValidation): no NUL byte ever reaches the Unique validator's query
    validators.insert(0, SansControle(multiligne))
    if obligatoire:
        message = next((v.message for v in (kwargs.get("validators") or []) if type(v) is InputRequired
                        and v.message), None)
        validators.insert(0, Obligatoire(message))
    if max_length and not any(isinstance(v, Length) and v.max not in (-1, None) for v in validators):
        validators.append(longueur(max_length))
    if _est_email(nom) and not any(isinstance(v, Email) for v in validators):
        validators.append(courriel())
    kwargs["validators"] = validators
    filters = [nettoyer] + [f for f in (kwargs.get("filters") or []) if f is not nettoyer]
    if nullable and vide_en_none not in filters:
        filters.append(vide_en_none)
    kwargs["filters"] = filters
    return unbound
