"""Contrôle des identifiants : IBAN/RIB (schwifty), SIREN/SIRET (python-stdnum), titulaire du RIB,
textes et références SEPA.

Les sommes de contrôle viennent des bibliothèques ; ce module ne fait que traduire leurs erreurs
en messages français destinés aux conseillers.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from schwifty import IBAN
from schwifty import exceptions as sx
from stdnum import exceptions as stdnum_exceptions
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret
from text_unidecode import unidecode

from . import params


class IdentifiantInvalide(ValueError):
    """Identifiant refusé ; `message` est prêt à afficher."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- IBAN / RIB (R76, R38) -----------------------------------------------------------------------

_ESPACES = re.compile(r"\s+")
_ALPHANUMERIQUE = re.compile(r"[A-Z0-9]*")


def _compacter(s: str | None) -> str:
    return _ESPACES.sub("", s or "").upper()


def _iban(s: str | None, *, zone_sepa: bool = True) -> IBAN:
    compact = _compacter(s)
    if not compact:
        raise IdentifiantInvalide("IBAN manquant.")
    if not _ALPHANUMERIQUE.fullmatch(compact):
        raise IdentifiantInvalide("L'IBAN ne doit contenir que des lettres et des chiffres (les espaces sont ignorés).")
    pays = compact[:2]
    try:
        attendu = IBAN(compact, allow_invalid=True).spec.iban_length
    except sx.SchwiftyException:
        raise IdentifiantInvalide(
            f"Code pays « {pays} » inconnu : un IBAN commence par le code du pays (FR pour la France)."
        ) from None
    if len(compact) != attendu:
        raise IdentifiantInvalide(
            f"Longueur incorrecte : un IBAN {pays} compte {attendu} caractères, {len(compact)} saisis."
        )
    try:
        # R76: validate_bban=True also checks the French RIB key, which mod-97 alone misses (E12)
        iban = IBAN(compact, validate_bban=True)
    except sx.InvalidBBANChecksum:
        raise IdentifiantInvalide(
            "Clé RIB incorrecte : les 2 derniers chiffres ne correspondent pas aux codes banque, guichet et "
            "compte. Vérifiez l'IBAN sur le RIB."
        ) from None
    except sx.InvalidChecksumDigits:
        raise IdentifiantInvalide(
            "Clé de contrôle de l'IBAN incorrecte (les 2 chiffres après le code pays) : l'IBAN a "
            "probablement été mal recopié."
        ) from None
    except sx.InvalidStructure:
        raise IdentifiantInvalide(
            f"Format incorrect pour un IBAN {pays} : code banque, code guichet ou numéro de compte mal formé."
        ) from None
    except sx.SchwiftyException:
        raise IdentifiantInvalide("IBAN invalide.") from None
    if zone_sepa and not iban.in_sepa_zone:
        raise IdentifiantInvalide(f"Compte hors zone SEPA ({pays}) : virement impossible.")
    return iban


def verifier_iban(s: str | None, *, zone_sepa: bool = True) -> str:
    """IBAN compact (sans espaces, en majuscules) ou `IdentifiantInvalide` avec le motif (R76).

    Contrôle la clé IBAN (mod 97), la longueur et la structure du pays, et la clé nationale (clé RIB
    pour FR et MC). Par défaut seuls les comptes de la zone SEPA sont acceptés. Un livret A ne se
    reconnaît pas à son IBAN (R38) : c'est le type de compte déclaré qui le refuse.
    """
    return str(_iban(s, zone_sepa=zone_sepa))


def iban_valide(s: str | None) -> bool:
    try:
        verifier_iban(s)
    except IdentifiantInvalide:
        return False
    return True


def bic_depuis_iban(s: str | None) -> str | None:
    """BIC de la banque d'après le code banque de l'IBAN (annuaire de schwifty), ou None s'il est
    inconnu. Lève `IdentifiantInvalide` si l'IBAN l'est."""
    bic = _iban(s).bic
    return str(bic) if bic is not None else None


def formater_iban(s: str | None) -> str:
    """IBAN par groupes de 4 caractères (« FR76 3000 6000 0112 3456 7890 189 »)."""
    return _iban(s).formatted


@dataclass(frozen=True)
class Rib:
    code_banque: str
    code_guichet: str
    numero_compte: str
    cle_rib: str


def rib_depuis_iban(s: str | None) -> Rib:
    """Composantes du RIB d'un IBAN français ou monégasque (R76)."""
    iban = _iban(s)
    if iban.country_code not in ("FR", "MC"):
        raise IdentifiantInvalide("Seul un IBAN français (FR) ou monégasque (MC) a un RIB.")
    return Rib(iban.bank_code, iban.branch_code, iban.account_code, iban.national_checksum_digits)


def verifier_titulaire(nom: str | None, dispositif: str) -> str:
    """Nom du titulaire du compte, espaces superflus retirés, ou `IdentifiantInvalide` (R38).

    Au plus 38 caractères sur le cerfa PACEA, 49 sur le cerfa CEJ (E14).
    """
    code = params.normaliser_dispositif(dispositif)
    propre = _ESPACES.sub(" ", nom or "").strip()
    if not propre:
        raise IdentifiantInvalide("Nom du titulaire du compte obligatoire.")
    maximum = params.TITULAIRE_LONGUEUR_MAX[code]
    if len(propre) > maximum:
        raise IdentifiantInvalide(
            f"Nom du titulaire trop long pour le cerfa {code} : {len(propre)} caractères, {maximum} au maximum."
        )
    return propre


# --- SIREN / SIRET (R75) -------------------------------------------------------------------------


def _verifier_stdnum(module, s: str | None, libelle: str, chiffres: int) -> str:
    compact = module.compact(s or "")
    if not compact:
        raise IdentifiantInvalide(f"{libelle} manquant.")
    try:
        return module.validate(compact)
    except stdnum_exceptions.InvalidLength:
        raise IdentifiantInvalide(
            f"Un {libelle} compte {chiffres} chiffres, {len(compact)} saisis."
        ) from None
    except stdnum_exceptions.InvalidFormat:
        raise IdentifiantInvalide(f"Un {libelle} ne contient que des chiffres.") from None
    except stdnum_exceptions.InvalidChecksum:
        raise IdentifiantInvalide(
            f"{libelle} invalide : la clé de contrôle ne correspond pas (numéro mal recopié ?)."
        ) from None
    except stdnum_exceptions.ValidationError:
        raise IdentifiantInvalide(f"{libelle} invalide.") from None


def verifier_siren(s: str | None) -> str:
    """SIREN compact (9 chiffres, clé de Luhn) ou `IdentifiantInvalide` (R75)."""
    return _verifier_stdnum(stdnum_siren, s, "SIREN", 9)


def verifier_siret(s: str | None) -> str:
    """SIRET compact (14 chiffres) ou `IdentifiantInvalide` (R75).

    Clé de Luhn sur les 14 chiffres et SIREN valide ; exception La Poste (SIREN 356000000 : somme
    des chiffres multiple de 5) gérée par python-stdnum.
    """
    return _verifier_stdnum(stdnum_siret, s, "SIRET", 14)


def siren_depuis_siret(s: str | None) -> str:
    return verifier_siret(s)[:9]


def formater_siret(s: str | None) -> str:
    """« 732 829 320 00074 »."""
    return stdnum_siret.format(verifier_siret(s))


# --- Téléphone fixe (R63) -------------------------------------------------------------------------

_TELEPHONE_SEPARATEURS = re.compile(r"[\s.\-()]")


def verifier_telephone_fixe(s: str | None) -> str:
    """Numéro de téléphone fixe français (R63 : « téléphone fixe »), rendu sur 10 chiffres : 01 à 05 ou 09
    (fixe par une box) ; +33 ou 0033 acceptés ; un mobile (06, 07) ou un numéro spécial (08) est refusé."""
    compact = _TELEPHONE_SEPARATEURS.sub("", s or "")
    if compact.startswith("+33"):
        compact = "0" + compact[3:]
    elif compact.startswith("0033"):
        compact = "0" + compact[4:]
    if not compact:
        raise IdentifiantInvalide("Numéro de téléphone manquant.")
    if not compact.isdigit() or len(compact) != 10 or compact[0] != "0":
        raise IdentifiantInvalide("Numéro de téléphone invalide : 10 chiffres, par exemple 03 20 12 34 56.")
    if compact[1] in "67":
        raise IdentifiantInvalide("Indiquez un numéro de téléphone fixe (01 à 05 ou 09), pas un mobile (R63).")
    if compact[1] not in "123459":
        raise IdentifiantInvalide("Indiquez un numéro de téléphone fixe (01 à 05 ou 09) (R63).")
    return compact


# --- Textes SEPA (R77) ---------------------------------------------------------------------------

# R77: EPC restricted Latin character set
_SEPA_SIGNES = r"a-zA-Z0-9/\-?:().,'+"  # the set without the space, as a regular-expression class
_HORS_SEPA = re.compile(rf"[^{_SEPA_SIGNES} ]")
# A text already in the SEPA set, its words separated by single spaces: texte_sepa returns it unchanged (R77). Most
# names and labels of a batch are (issue 13: two calls per transfer, ≈ 9 % of an emission's CPU before this test).
_DEJA_SEPA = re.compile(rf"[{_SEPA_SIGNES}]+(?: [{_SEPA_SIGNES}]+)*")
_SEPA_SUBSTITUTIONS = str.maketrans({"&": "+", "_": "-", '"': "'", ";": ",", "!": "."})
# Before unidecode, which spells "°" as "deg": "N° 12" should read "No 12".
_AVANT_TRANSLITTERATION = str.maketrans({"°": "o", "º": "o", "№": "No"})


def _translitterer(s: str) -> str:
    return unidecode(unicodedata.normalize("NFC", s).translate(_AVANT_TRANSLITTERATION))


def texte_sepa(s: str | None, max_len: int) -> str:
    """Texte réduit au jeu de caractères SEPA (lettres sans accents, chiffres, / - ? : ( ) . , ' +
    et espace), espaces regroupés, tronqué à `max_len` caractères (R77).

    « Éloïse Müller & Fils » → « Eloise Muller + Fils ».
    """
    if max_len < 1:
        raise ValueError("Longueur maximale SEPA invalide.")
    if s and len(s) <= max_len and _DEJA_SEPA.fullmatch(s):
        return s
    return _texte_sepa_complet(s, max_len)


def _texte_sepa_complet(s: str | None, max_len: int) -> str:
    """texte_sepa without its shortcut: transliteration, substitutions, spaces, truncation."""
    texte = s or ""
    if not texte.isascii():  # most names and labels are already plain ASCII: skip transliteration
        texte = _translitterer(texte)
    texte = _HORS_SEPA.sub(" ", texte.translate(_SEPA_SUBSTITUTIONS))
    texte = _ESPACES.sub(" ", texte).strip()
    return texte[:max_len].rstrip()


def _partie_identifiant(partie: object) -> str:
    if isinstance(partie, date):
        partie = partie.strftime("%Y%m%d")
    return re.sub(r"[^A-Z0-9]", "", _translitterer(str(partie)).upper())


def end_to_end_id(prefix: str, *parts: object) -> str:
    """Référence de bout en bout d'un virement, ≤ 35 caractères [A-Z0-9-], déterministe (R77).

    `end_to_end_id("CEJ", "202505", "000123")` → « CEJ-202505-000123 ». Une date devient AAAAMMJJ.
    Trop longue, elle est tronquée et terminée par 8 caractères d'empreinte du texte complet, pour
    que deux références différentes restent différentes.
    """
    morceaux = [m for m in (_partie_identifiant(p) for p in (prefix, *parts)) if m]
    if not morceaux or not _partie_identifiant(prefix):
        raise ValueError("Préfixe de référence SEPA vide.")
    complet = "-".join(morceaux)
    maximum = params.SEPA_IDENTIFIANT_MAX
    if len(complet) <= maximum:
        return complet
    empreinte = hashlib.sha256(complet.encode()).hexdigest()[:8].upper()
    return complet[: maximum - len(empreinte) - 1].rstrip("-") + "-" + empreinte
