"""Afas, prestation de service Espace de rencontre : estimation du droit (R78), acomptes et solde (R79),
contrôles de cohérence (R59) et structure des lieux d'accueil (R58). Fonctions pures, sans base de données.

- R78 : droit = 60 % × min(prix de revient horaire, prix plafond) × (heures ouvertes au public + heures
  d'organisation) ; prix de revient horaire = charges de fonctionnement ÷ ces mêmes heures. Les heures
  ouvertes au public sont les heures de rencontres (ou de « passage de bras ») et d'entretiens avec les
  familles (R57). Le prix plafond est un barème daté (params.AFAS_PRIX_PLAFOND_HORAIRE).
- R79 : 1er acompte = 35 % du droit réel de N-2 (nouveau service : 35 % du droit prévisionnel de N) ;
  2e acompte = 35 % du droit prévisionnel de N ; si l'écart prévisionnel/réel de N-1 dépasse 10 % sans
  justification, les acomptes sont limités à 70 % du droit réel de N-1 ; le solde = droit réel − acomptes,
  négatif : un trop-versé à reverser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from . import params
from ._argent import ZERO, arrondir, decimal

def format_montant(value: Decimal | None) -> str:
    """« 1 234,56 € » (the screens' format, i18n.format_montant, without importing the app layers)."""
    if value is None:
        return ""
    q = arrondir(Decimal(value))
    units, cents = f"{abs(q):.2f}".split(".")
    groups = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return f"{'-' if q < 0 else ''}{chr(0x202f).join(groups)},{cents}\u00a0€"


# ---- R78: the estimate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimationDroit:
    """The droit and its computation, as shown to the partner while they type (R59, R78)."""

    charges: Decimal
    heures_public: Decimal
    heures_organisation: Decimal
    heures: Decimal  # public + organisation
    prix_revient_horaire: Decimal | None  # rounded to the cent for display; None without hours
    prix_plafond: Decimal
    prix_retenu: Decimal | None  # min(cost price, ceiling), rounded for display
    taux: Decimal
    droit: Decimal

    @property
    def plafonne(self) -> bool:
        return self.prix_revient_horaire is not None and self.prix_revient_horaire > self.prix_plafond

    def detail(self) -> str:
        """« 60 % × min(35,42 € ; 35,00 €) × 1 200 h = 25 200,00 € » (French figures)."""
        if self.prix_revient_horaire is None:
            return "Aucune heure déclarée : droit nul."
        h = f"{self.heures.normalize():f}".replace(".", ",")
        return (f"{int(self.taux * 100)} % × min(prix de revient {format_montant(self.prix_revient_horaire)}/h ; "
                f"prix plafond {format_montant(self.prix_plafond)}/h) × {h} h = {format_montant(self.droit)}")


def _exercice_date(exercice: int | date) -> date:
    return exercice if isinstance(exercice, date) else date(int(exercice), 1, 1)


def prix_plafond(exercice: int | date) -> Decimal:
    """R78: the CNAF's hourly ceiling in force on 1 January of the financial year (a dated barème)."""
    return params.AFAS_PRIX_PLAFOND_HORAIRE.valeur(_exercice_date(exercice))


def estimer_droit(charges: Decimal, heures_public: Decimal, heures_organisation: Decimal, *,
                  exercice: int | date) -> EstimationDroit:
    """R78: 60 % × min(charges ÷ heures, plafond) × heures, rounded to the cent (half up)."""
    charges = decimal(charges, "charges")
    heures_public = decimal(heures_public, "heures ouvertes au public")
    heures_organisation = decimal(heures_organisation, "heures d'organisation")
    plafond = prix_plafond(exercice)
    heures = heures_public + heures_organisation
    taux = params.AFAS_TAUX_PS
    if heures == 0:
        return EstimationDroit(charges, heures_public, heures_organisation, heures, None, plafond, None, taux,
                               ZERO.quantize(Decimal("0.01")))
    prix = charges / heures  # exact: the droit is not computed on a rounded price
    retenu = min(prix, plafond)
    return EstimationDroit(charges, heures_public, heures_organisation, heures, arrondir(prix), plafond,
                           arrondir(retenu), taux, arrondir(taux * retenu * heures))


# ---- R79: acomptes and balance ------------------------------------------------------------------------------


def ecart_depasse(previsionnel: Decimal | None, reel: Decimal | None, seuil: Decimal = params.AFAS_ECART_MAX) -> bool:
    """R59, R79: the actual more than 10 % away from the forecast (either way). No forecast: no gap."""
    if previsionnel is None or reel is None or previsionnel == 0:
        return False
    return abs(reel - previsionnel) > seuil * previsionnel


def premier_acompte(*, droit_reel_n2: Decimal | None, droit_previsionnel_n: Decimal | None = None) -> Decimal:
    """R79: after the forecast of N is sent: 35 % of the actual droit of N-2; a new service (no actual
    droit of N-2): 35 % of the forecast droit of N."""
    base = droit_reel_n2 if droit_reel_n2 is not None else droit_previsionnel_n
    if base is None:
        return ZERO.quantize(Decimal("0.01"))
    return arrondir(params.AFAS_TAUX_ACOMPTE * decimal(base, "droit"))


def second_acompte(*, droit_previsionnel_n: Decimal, droit_reel_n1: Decimal | None, premier: Decimal,
                   ecart_non_justifie: bool) -> Decimal:
    """R79: after the actual of N-1 is processed: 35 % of the forecast droit of N; when the N-1 gap over
    10 % is not justified, the acomptes are limited to 70 % of the actual droit of N-1:
    min(35 % × forecast N, 70 % × actual N-1 − 1st acompte), never below 0 [derived]."""
    montant = arrondir(params.AFAS_TAUX_ACOMPTE * decimal(droit_previsionnel_n, "droit prévisionnel"))
    if ecart_non_justifie and droit_reel_n1 is not None:
        limite = arrondir(params.AFAS_LIMITE_ACOMPTES * decimal(droit_reel_n1, "droit réel N-1")) - premier
        montant = min(montant, limite)
    return max(montant, ZERO.quantize(Decimal("0.01")))


@dataclass(frozen=True)
class Solde:
    """R79: the balance of a year: to pay (> 0) or, when the acomptes went beyond the droit, to recover."""

    droit: Decimal
    deja_verse: Decimal
    montant: Decimal  # droit − acomptes, signed

    @property
    def a_payer(self) -> Decimal:
        return max(self.montant, ZERO.quantize(Decimal("0.01")))

    @property
    def a_reverser(self) -> Decimal:
        return max(-self.montant, ZERO.quantize(Decimal("0.01")))


def solde(*, droit_reel_n: Decimal, deja_verse: Decimal) -> Solde:
    """R79: balance after the actual of N; below what was paid, an overpayment to recover [derived]."""
    droit_reel_n = arrondir(decimal(droit_reel_n, "droit réel"))
    deja_verse = arrondir(decimal(deja_verse, "acomptes versés"))
    return Solde(droit_reel_n, deja_verse, droit_reel_n - deja_verse)


# ---- R58: the structure of a service --------------------------------------------------------------------------

MONO, ITINERANCE, ANTENNE = "mono_lieu", "itinerance", "antenne"


def erreur_structure(modes: list[str]) -> str | None:
    """R58: a service is single-venue (exactly one venue, mono-lieu) or multi-venue with all its open venues
    in itinérance or all as antennes. The French refusal, or None when the structure is valid."""
    modes = [str(getattr(x, "value", x)) for x in modes]
    if not modes:
        return "Le service n'a aucun lieu d'accueil ouvert (R58)."
    if MONO in modes:
        if len(modes) > 1:
            return ("Un lieu d'accueil unique (mono-lieu) est le seul lieu du service : pour plusieurs lieux, "
                    "tous en itinérance ou tous en antennes (R58).")
        return None
    if len(set(modes)) > 1:
        return "Les lieux d'un service multi-lieux sont tous en itinérance ou tous en antennes, sans mélange (R58)."
    if len(modes) < 2:
        return "Un service multi-lieux (itinérance ou antennes) compte au moins deux lieux d'accueil (R58)."
    return None


# ---- R59: coherence checks as a table of rules ------------------------------------------------------------------

BLOQUANTE, JUSTIFIABLE = "bloquante", "justifiable"
RATIO_VARIATION_HEURES = Decimal("0.30")  # R59: hours moved by more than 30 % from the previous year


@dataclass(frozen=True)
class Ligne:
    lieu_id: int
    semestre: int
    rencontres: Decimal
    entretiens: Decimal
    organisation: Decimal


@dataclass(frozen=True)
class Donnees:
    """What the checks read of a declaration (built by workflows.afas from the database)."""

    type: str  # previsionnelle | actualisation | reelle
    exercice: int
    budget: Decimal | None
    charges: Decimal | None
    produits: Decimal | None
    lignes: tuple[Ligne, ...] = ()
    lieux: tuple[int, ...] = ()  # the service's venues open during the year
    modes: tuple[str, ...] = ()  # their modes (R58)
    heures_annee_precedente: Decimal | None = None  # same type, N-1
    droit_previsionnel: Decimal | None = None  # the forecast droit of the year (for an actual)
    noms_lieux: dict = field(default_factory=dict)
    items_manquants: tuple[str, ...] = ()  # R57: mandatory yearly items not filled in (actual declaration)
    items_hors_bornes: tuple[str, ...] = ()  # values outside their item's bounds (bounds changed since)

    @property
    def heures_rencontres(self) -> Decimal:
        return sum((x.rencontres for x in self.lignes), ZERO)

    @property
    def heures_public(self) -> Decimal:
        return sum((x.rencontres + x.entretiens for x in self.lignes), ZERO)

    @property
    def heures_organisation(self) -> Decimal:
        return sum((x.organisation for x in self.lignes), ZERO)

    @property
    def heures(self) -> Decimal:
        return self.heures_public + self.heures_organisation

    def estimation(self) -> EstimationDroit | None:
        if self.charges is None:
            return None
        return estimer_droit(self.charges, self.heures_public, self.heures_organisation, exercice=self.exercice)


@dataclass(frozen=True)
class Controle:
    code: str
    message: str  # French; {detail} filled in by the check
    nature: str  # bloquante | justifiable
    verifier: object  # (Donnees) -> None when fine, else the detail (str) of the anomaly


def _finances_manquantes(d: Donnees):
    manquants = [nom for nom, v in (("budget", d.budget), ("charges", d.charges), ("produits", d.produits))
                 if v is None]
    return ", ".join(manquants) if manquants else None


def _budget_desequilibre(d: Donnees):
    if d.charges is None or d.produits is None or d.charges == d.produits:
        return None
    return f"charges {format_montant(d.charges)}, produits {format_montant(d.produits)}"


def _lieu_semestre_manquant(d: Donnees):
    vus = {(x.lieu_id, x.semestre) for x in d.lignes}
    manquants = [f"{d.noms_lieux.get(lieu, f'lieu {lieu}')} ({s}er semestre)" if s == 1 else
                 f"{d.noms_lieux.get(lieu, f'lieu {lieu}')} ({s}e semestre)"
                 for lieu in d.lieux for s in (1, 2) if (lieu, s) not in vus]
    return ", ".join(manquants[:6]) + (" …" if len(manquants) > 6 else "") if manquants else None


def _structure(d: Donnees):
    return erreur_structure(list(d.modes))


def _organisation_sup_rencontres(d: Donnees):
    if d.lignes and d.heures_organisation > d.heures_rencontres:
        return f"{d.heures_organisation:f} h d'organisation pour {d.heures_rencontres:f} h de rencontres"
    return None


def _variation_heures(d: Donnees):
    prev = d.heures_annee_precedente
    if not prev or not d.lignes:
        return None
    if abs(d.heures - prev) > RATIO_VARIATION_HEURES * prev:
        return f"{d.heures:f} h contre {prev:f} h l'an passé"
    return None


def _ecart_previsionnel(d: Donnees):
    if d.type != "reelle":
        return None
    est = d.estimation()
    if est is None or not ecart_depasse(d.droit_previsionnel, est.droit):
        return None
    return f"droit réel {format_montant(est.droit)}, prévisionnel {format_montant(d.droit_previsionnel)}"


def _cout_horaire_plafond(d: Donnees):
    est = d.estimation()
    if est is None or not est.plafonne:
        return None
    return f"{format_montant(est.prix_revient_horaire)}/h pour un plafond de {format_montant(est.prix_plafond)}/h"


def _items_manquants(d: Donnees):
    if d.type != "reelle" or not d.items_manquants:
        return None
    return ", ".join(d.items_manquants[:4]) + (f" … ({len(d.items_manquants)} en tout)" if len(d.items_manquants) > 4
                                                else "")


def _items_hors_bornes(d: Donnees):
    return ", ".join(d.items_hors_bornes[:4]) if d.items_hors_bornes else None


# The table: code, French message, kind. The Caf changes a message or a kind here, in one place.
CONTROLES: tuple[Controle, ...] = (
    Controle("FIN-MANQUANTE", "Données financières manquantes", BLOQUANTE, _finances_manquantes),
    Controle("BUDGET", "Budget non équilibré (charges et produits différents)", BLOQUANTE, _budget_desequilibre),
    Controle("STRUCTURE", "Structure des lieux d'accueil incohérente", BLOQUANTE, _structure),
    Controle("LIEU-SEMESTRE", "Données d'activité manquantes pour un lieu ou un semestre", BLOQUANTE,
             _lieu_semestre_manquant),
    Controle("ORGA-SUP", "Heures d'organisation supérieures aux heures de rencontres", JUSTIFIABLE,
             _organisation_sup_rencontres),
    Controle("VARIATION", "Heures en variation de plus de 30 % par rapport à l'année précédente", JUSTIFIABLE,
             _variation_heures),
    Controle("ECART-PREV", "Écart de plus de 10 % entre le réel et le prévisionnel", JUSTIFIABLE,
             _ecart_previsionnel),
    Controle("COUT-PLAFOND", "Prix de revient horaire au-delà du prix plafond", JUSTIFIABLE,
             _cout_horaire_plafond),
    Controle("ITEMS-ANNUELS", "Données annuelles obligatoires manquantes (R57)", BLOQUANTE, _items_manquants),
    Controle("ITEM-BORNES", "Donnée annuelle hors de ses bornes", BLOQUANTE, _items_hors_bornes),
)
CONTROLE_PAR_CODE = {c.code: c for c in CONTROLES}


@dataclass(frozen=True)
class Constat:
    code: str
    libelle: str
    nature: str


def controler(d: Donnees) -> list[Constat]:
    """R59: every check of the table on the declaration's data; one finding per failing check."""
    constats = []
    for c in CONTROLES:
        detail = c.verifier(d)
        if detail:
            libelle = f"{c.message} : {detail}" if isinstance(detail, str) else c.message
            constats.append(Constat(c.code, libelle[:300], c.nature))
    return constats


# ---- R57: the yearly items of the actual declaration, defined as data ------------------------------------------

ENTIER, DECIMAL, MONTANT, OUI_NON, TEXTE = "entier", "decimal", "montant", "oui_non", "texte"
OUI, NON = ("oui", "o", "1", "true", "vrai"), ("non", "n", "0", "false", "faux")


def _nombre_fr(brut: str) -> Decimal | None:
    texte = brut.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("€", "").replace(",", ".")
    try:
        value = Decimal(texte)
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def lire_item(type_, minimum: Decimal | None, maximum: Decimal | None, brut, *, libelle: str = "La donnée"
              ) -> tuple[Decimal | None, str | None]:
    """R57: a typed-in value of a yearly item → (number, text), checked against the item's type and bounds
    (inclusive; for a text, `maximum` is its length). Empty → (None, None): not filled in. A bad value raises
    ValueError with the French reason."""
    type_ = str(getattr(type_, "value", type_))
    texte = "" if brut is None else str(brut).strip()
    if texte == "":
        return None, None
    if type_ == TEXTE:
        if maximum is not None and len(texte) > int(maximum):
            raise ValueError(f"{libelle} : {int(maximum)} caractères au plus.")
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in texte):
            raise ValueError(f"{libelle} : caractères de contrôle refusés.")
        return None, texte
    if type_ == OUI_NON:
        if texte.lower() in OUI:
            return Decimal("1"), None
        if texte.lower() in NON:
            return Decimal("0"), None
        raise ValueError(f"{libelle} : répondez oui ou non.")
    value = _nombre_fr(texte)
    if value is None:
        raise ValueError(f"{libelle} : un nombre est attendu (par exemple 12 ou 12,5).")
    if type_ == ENTIER and value != value.to_integral_value():
        raise ValueError(f"{libelle} : un nombre entier est attendu.")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{libelle} : deux décimales au plus.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{libelle} : {format_nombre(minimum, type_)} au moins.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{libelle} : {format_nombre(maximum, type_)} au plus.")
    return value.quantize(Decimal("0.01")), None


def dans_les_bornes(type_, minimum, maximum, nombre: Decimal | None, texte: str | None) -> bool:
    """A stored value still within its item's current bounds (the Caf may have changed them)."""
    type_ = str(getattr(type_, "value", type_))
    if type_ == TEXTE:
        return texte is None or maximum is None or len(texte) <= int(maximum)
    if nombre is None or type_ == OUI_NON:
        return True
    return (minimum is None or nombre >= minimum) and (maximum is None or nombre <= maximum)


def format_nombre(value: Decimal | None, type_) -> str:
    type_ = str(getattr(type_, "value", type_))
    if value is None:
        return ""
    if type_ == MONTANT:
        return format_montant(value)
    if type_ == OUI_NON:
        return "oui" if value else "non"
    if type_ == ENTIER:
        return f"{int(value)}"
    return f"{value.normalize():f}".replace(".", ",")
