"""The dispositif catalogue (rules as data, rules.md §2.3) and the Mission Locale's structures."""

from __future__ import annotations

import sqlalchemy as sa

from backoffice.models import Dispositif, MotifSortie, Structure
from backoffice.models.enums import TypeStructure

MOTIFS_RELATION_ENTREPRISE = [  # R2: the 15 exit reasons
    ("Décès", False), ("Sans solution en fin de programme", False), ("Abandon du jeune", False),
    ("Autres", False), ("Accès au service civique", True), ("Déménagement", False),
    ("CDD < 6 mois", True), ("CUI-CIE", True), ("CDI", True), ("Formation < 6 mois", True),
    ("Contrat de professionnalisation", True), ("CDD > 6 mois", True), ("CUI-CAE", True),
    ("Contrat d'apprentissage", True), ("Formation > 6 mois", True),
]
MOTIFS_PARCOURS = [
    ("Emploi durable", True), ("Formation qualifiante", True), ("Accès à l'autonomie", True),
    ("Fin de droits (limite d'âge)", False), ("Abandon du jeune", False), ("Déménagement", False),
    ("Sanction (manquements répétés)", False), ("Fin du titre de séjour", False),
    ("Absence de contact", False),
]

# code, libellé, durée min (jours), durée max (mois), renouvelable, nb renouv., durée renouv. (mois),
# allocation, titulaire max, France Travail requis, sortie positive, pilote, âge min, âge max
DISPOSITIFS = [
    ("CEJ", "Contrat d'engagement jeune", 1, 12, True, 1, 6, True, 49, True, False, None, 16, 25),
    ("PACEA", "Parcours contractualisé d'accompagnement vers l'emploi et l'autonomie", 1, 24, False, 0, None,
     True, 38, True, False, None, 16, 25),
    ("DIAG", "Diagnostic approfondi", 1, 3, False, 0, None, False, None, False, False, None, 16, 25),  # R6
    ("RE", "Relation entreprise", 1, 3, True, 1, 2, False, None, False, True, None, 16, 25),  # R1, R2
    ("PARRAINAGE", "Parrainage", 42, 6, False, 0, None, False, None, False, True, None, 16, 25),  # R8
    ("QPV", "Quartier prioritaire de la politique de la ville", None, None, False, 0, None, False, None,
     False, False, "12-MLD", None, None),  # R9
    ("PAO", "Parcours d'appui et d'orientation", None, None, False, 0, None, False, None, False, False,
     None, 16, 25),  # R10
    ("AVENIR_PRO", "Avenir Pro", None, None, False, 0, None, False, None, False, False, None, 15, 25),
    ("DECLIC", "Déclic pour l'action", None, None, False, 0, None, False, None, True, False, None, 18, 25),  # R12
]
# the actions a dispositif records: nature, minimum to validate, maximum, hours counted per action
ACTIONS = {"PARRAINAGE": ("parrainage", 2, None, None),  # R8: validated with 2 parrainage actions at least
           "AVENIR_PRO": ("atelier", None, 4, None),  # R11: a cycle of 4 workshops
           "DECLIC": ("journee_declic", None, 6, 7)}  # R12: up to 6 days, 7 h each, not workshops


def load_catalogue(session) -> dict[str, Dispositif]:
    existing = {d.code: d for d in session.scalars(sa.select(Dispositif))}
    for (code, libelle, dmin, dmax, renouv, nb, drenouv, alloc, titulaire, ft, positive, pilote,
         age_min, age_max) in DISPOSITIFS:
        if code in existing:
            continue
        d = Dispositif(code=code, libelle=libelle, duree_min_jours=dmin, duree_max_mois=dmax,
                       renouvelable=renouv, nb_renouvellements_max=nb, duree_renouvellement_mois=drenouv,
                       allocation_autorisee=alloc, longueur_max_titulaire=titulaire,
                       france_travail_requis=ft, sortie_positive=positive, pilote_code=pilote,
                       age_min=age_min, age_max=age_max)
        d.nature_action, d.actions_min, d.actions_max, d.heures_par_action = ACTIONS.get(code, (None,) * 4)
        motifs = MOTIFS_RELATION_ENTREPRISE if code == "RE" else MOTIFS_PARCOURS
        d.motifs_sortie = [MotifSortie(libelle=lib, sortie_positive=pos) for lib, pos in motifs]
        session.add(d)
        existing[code] = d
    session.flush()
    return existing


ANTENNES = [
    ("ML-ANT-NORD", "Antenne Lille Nord", "12 rue de Roubaix", "59800", "Lille"),
    ("ML-ANT-SUD", "Antenne Lille Sud", "4 place Louise de Bettignies", "59000", "Lille"),
    ("ML-ANT-EST", "Antenne Villeneuve-d'Ascq", "2 avenue de l'Europe", "59650", "Villeneuve-d'Ascq"),
]


def load_structures(session) -> dict[str, Structure]:
    existing = {s.code: s for s in session.scalars(sa.select(Structure))}
    if "ML-SIEGE" not in existing:
        siege = Structure(code="ML-SIEGE", nom="Mission Locale de la Métropole Lilloise — siège",
                          type=TypeStructure.SIEGE, adresse="33 rue Jean Jaurès", code_postal="59000",
                          ville="Lille", email="siege@ml-metropole.example.fr", telephone="0320000000")
        session.add(siege)
        existing["ML-SIEGE"] = siege
        session.flush()
    for code, nom, adresse, cp, ville in ANTENNES:
        if code not in existing:
            s = Structure(code=code, nom=nom, type=TypeStructure.ANTENNE, parent_id=existing["ML-SIEGE"].id,
                          adresse=adresse, code_postal=cp, ville=ville)
            session.add(s)
            existing[code] = s
    session.flush()
    return existing
