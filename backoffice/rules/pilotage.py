"""Pilotage (issue 16, part 5): the pure part of the restitutions — a postcode's département, the months of a
period, and the screen's filters checked into values (a French message for anything wrong).

No database here: the département and région referential is a table (migration 0028); the caller passes the
codes it knows (`departements`: code → région code) so an unknown one is refused with a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

NIVEAUX = {"national": "National", "region": "Région", "departement": "Département"}
MAX_MOIS = 60  # a restitution covers at most five years: beyond, the screen would be unreadable

_MOIS = (
    (re.compile(r"(\d{4})-(\d{1,2})"), lambda m: (int(m.group(1)), int(m.group(2)))),
    (re.compile(r"(\d{1,2})/(\d{4})"), lambda m: (int(m.group(2)), int(m.group(1)))),
)


class FiltreInvalide(ValueError):
    """A filter the screen cannot apply; the message is French and shown as is."""


def departement_du_code_postal(code_postal: str | None) -> str | None:
    """The INSEE département code of a French postcode: its first two digits; overseas (97x, 98x) three; Corsica
    « 20 » split at 20200 (20000-20199 Corse-du-Sud 2A, 20200-20699 Haute-Corse 2B). None when there is none.
    The same rule is written in SQL in workflows.pilotage.departement_sql."""
    cp = (code_postal or "").strip()
    if len(cp) < 2:
        return None
    if cp[:2] == "20":
        return "2A" if cp < "20200" else "2B"
    if cp[:2] in ("97", "98"):
        return cp[:3]
    return cp[:2]


def parse_mois(texte: str | None, champ: str) -> date:
    """« 2025-04 » (an <input type=month>) or « 04/2025 » → date(2025, 4, 1)."""
    texte = (texte or "").strip()
    for motif, extraire in _MOIS:
        m = motif.fullmatch(texte)
        if m:
            annee, mois = extraire(m)
            if not 1 <= mois <= 12:
                raise FiltreInvalide(f"{champ} : le mois {mois} n'existe pas (de 01 à 12).")
            if not 2000 <= annee <= 2100:
                raise FiltreInvalide(f"{champ} : l'année {annee} est hors de la période gérée (2000 à 2100).")
            return date(annee, mois, 1)
    raise FiltreInvalide(f"{champ} : saisissez un mois au format MM/AAAA (par exemple 04/2025).")


def mois_suivant(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def mois_de(debut: date, fin: date) -> list[date]:
    """The first days of the months from `debut` to `fin` included."""
    out, d = [], debut
    while d <= fin:
        out.append(d)
        d = mois_suivant(d)
    return out


def moins_mois(d: date, n: int) -> date:
    total = d.year * 12 + d.month - 1 - n
    return date(total // 12, total % 12 + 1, 1)


@dataclass(frozen=True)
class Filtres:
    debut: date  # first day of the first month
    fin: date  # first day of the last month (included)
    niveau: str = "national"
    territoire: str | None = None  # a région code (niveau région) or a département code (niveau département)
    programme: str | None = None  # a dispositif code, or every programme

    @property
    def mois(self) -> list[date]:
        return mois_de(self.debut, self.fin)

    @property
    def fin_exclue(self) -> date:
        return mois_suivant(self.fin)


def parse_filtres(args, *, departements: dict[str, str], regions: set[str], programmes: set[str],
                  defaut_fin: date) -> Filtres:
    """The screen's query string (a mapping) → Filtres, or FiltreInvalide with the first problem in French.
    Defaults: the twelve months up to `defaut_fin`, national, every programme."""
    fin = parse_mois(args.get("fin"), "Fin de période") if (args.get("fin") or "").strip() else defaut_fin
    debut = (parse_mois(args.get("debut"), "Début de période") if (args.get("debut") or "").strip()
             else moins_mois(fin, 11))
    if fin < debut:
        raise FiltreInvalide(f"La fin de période ({fin:%m/%Y}) précède son début ({debut:%m/%Y}).")
    if len(mois_de(debut, fin)) > MAX_MOIS:
        raise FiltreInvalide(f"La période couvre plus de {MAX_MOIS} mois : réduisez-la.")
    niveau = (args.get("niveau") or "national").strip()
    if niveau not in NIVEAUX:
        raise FiltreInvalide(f"Niveau inconnu : « {niveau[:20]} » (national, région ou département).")
    territoire = (args.get("territoire") or "").strip().upper() or None
    if niveau == "national":
        territoire = None
    elif niveau == "region":
        if territoire is None:
            raise FiltreInvalide("Choisissez la région.")
        if territoire not in regions:
            raise FiltreInvalide(f"Région inconnue : « {territoire[:10]} » (code INSEE à deux chiffres).")
    else:
        if territoire is None:
            raise FiltreInvalide("Choisissez le département.")
        if len(territoire) == 1 and territoire.isdigit():
            territoire = "0" + territoire
        if territoire not in departements:
            raise FiltreInvalide(f"Département inconnu : « {territoire[:10]} » "
                                 "(code INSEE : 01 à 95, 2A, 2B, 971 à 976).")
    programme = (args.get("programme") or "").strip().upper() or None
    if programme is not None and programme not in programmes:
        raise FiltreInvalide(f"Programme inconnu : « {programme[:20]} ».")
    return Filtres(debut=debut, fin=fin, niveau=niveau, territoire=territoire, programme=programme)
