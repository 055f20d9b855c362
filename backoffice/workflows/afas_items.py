"""The ~20 yearly items of the actual declaration (R57, issue 15 §2), defined as data (models.ItemAnnuelAfas: type,
bounds, provider, mandatory), filled in on the declaration by the provider of their part (R60) and checked
against their bounds when saved (rules.afas.lire_item: a bad value refuses the whole form, nothing is written).
The checks of the declaration (R59, rules.afas.CONTROLES) name the mandatory items still missing (blocking) and
the values that left their bounds since the Caf changed them (blocking).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import DeclarationPartenaire as Decl, ItemAnnuelAfas as Item, ValeurItemAfas as Valeur
from ..models.enums import DeclarationType, PartAfas, TypeItemAfas
from ..rules import afas as regles
from . import audit
from .errors import TransitionRefused, WorkflowError


class ItemsRefuses(TransitionRefused):
    """The form's values refused, each reason in `erreurs` (nothing was written)."""

    def __init__(self, erreurs: list[str]):
        super().__init__(" ".join(erreurs))
        self.erreurs = erreurs


# R57 [derived: the CNAF leaflet listing them is not in the sources]: the initial items, written by migration
# 0021_afas_paiements; code, libellé, type, part, minimum, maximum, obligatoire
ITEMS_PAR_DEFAUT = [
    ("NB_FAMILLES", "Nombre de familles accueillies dans l'année", "entier", "activite", 0, 10000, True),
    ("NB_ENFANTS", "Nombre d'enfants accueillis dans l'année", "entier", "activite", 0, 20000, True),
    ("NB_NOUVELLES_SITUATIONS", "Nombre de nouvelles situations dans l'année", "entier", "activite", 0, 10000, True),
    ("NB_SITUATIONS_TERMINEES", "Nombre de situations terminées dans l'année", "entier", "activite", 0, 10000, True),
    ("NB_MESURES_JUDICIAIRES", "Situations orientées par une décision de justice", "entier", "activite", 0, 10000,
     True),
    ("NB_MESURES_CONVENTIONNELLES", "Situations hors décision de justice (démarche des parents)", "entier",
     "activite", 0, 10000, True),
    ("NB_RENCONTRES", "Nombre de rencontres parents-enfants réalisées", "entier", "activite", 0, 100000, True),
    ("NB_RENCONTRES_ANNULEES", "Nombre de rencontres annulées", "entier", "activite", 0, 100000, True),
    ("NB_PASSAGES_BRAS", "Nombre de « passages de bras » entre les parents", "entier", "activite", 0, 100000, True),
    ("DUREE_MOYENNE_MOIS", "Durée moyenne d'une situation (mois)", "decimal", "activite", 0, 120, True),
    ("DELAI_ATTENTE_JOURS", "Délai moyen entre la demande et la première rencontre (jours)", "entier", "activite",
     0, 730, True),
    ("LISTE_ATTENTE", "Familles en liste d'attente au 31 décembre", "entier", "activite", 0, 10000, True),
    ("JOURS_OUVERTURE", "Jours d'ouverture au public dans l'année", "entier", "activite", 0, 366, True),
    ("OUVERTURE_SAMEDI", "Ouverture le samedi", "oui_non", "activite", None, None, True),
    ("ETP_ACCUEILLANTS", "Accueillants salariés (équivalents temps plein)", "decimal", "finances", 0, 100, True),
    ("ETP_COORDINATION", "Coordination et direction (équivalents temps plein)", "decimal", "finances", 0, 50, True),
    ("NB_BENEVOLES", "Nombre de bénévoles", "entier", "finances", 0, 500, True),
    ("HEURES_ANALYSE_PRATIQUE", "Heures d'analyse de la pratique des accueillants", "decimal", "finances", 0, 2000,
     True),
    ("PARTICIPATION_FAMILLES", "Participation financière des familles (€)", "montant", "finances", 0, 1000000, True),
    ("FINANCEMENT_JUSTICE", "Financement du ministère de la Justice (€)", "montant", "finances", 0, 10000000, True),
    ("FAITS_MARQUANTS", "Faits marquants de l'année", "texte", "activite", None, 500, False),
]


def creer_items_par_defaut(session) -> int:
    """The initial items where they are missing (an emptied database, the demo); those there are left as the
    administrator made them. Returns how many were added."""
    existants = set(session.execute(sa.select(Item.code)).scalars())
    nouveaux = [Item(code=c, libelle=l, type=TypeItemAfas(t), part=PartAfas(p), minimum=lo, maximum=hi, obligatoire=o, actif=True,
                     ordre=10 * (k + 1)) for k, (c, l, t, p, lo, hi, o) in enumerate(ITEMS_PAR_DEFAUT)
                if c not in existants]
    session.add_all(nouveaux)
    session.flush()
    return len(nouveaux)


def items_actifs(session) -> list[Item]:
    return session.execute(sa.select(Item).where(Item.actif.is_(True)).order_by(Item.ordre, Item.id)).scalars().all()


def valeurs(session, declaration_id: int) -> dict[int, Valeur]:
    return {v.item_id: v for v in session.execute(sa.select(Valeur).where(
        Valeur.declaration_id == declaration_id)).scalars()}


def etat_items(session, ids) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """For each actual declaration among `ids`: (mandatory active items missing, values out of bounds), as
    French labels. Two queries whatever the count."""
    ids = list(ids)
    reelles = session.execute(sa.select(Decl.id).where(Decl.id.in_(ids), Decl.type == DeclarationType.REELLE)
                              ).scalars().all()
    if not reelles:
        return {}
    items = items_actifs(session)
    saisies: dict[int, dict[int, tuple]] = {}
    for v in session.execute(sa.select(Valeur.declaration_id, Valeur.item_id, Valeur.valeur_nombre,
                                       Valeur.valeur_texte).where(Valeur.declaration_id.in_(reelles))).all():
        saisies.setdefault(v.declaration_id, {})[v.item_id] = (v.valeur_nombre, v.valeur_texte)
    out = {}
    for i in reelles:
        mine = saisies.get(i, {})
        manquants = tuple(it.libelle for it in items
                          if it.obligatoire and mine.get(it.id, (None, None)) == (None, None))
        hors = tuple(it.libelle for it in items if it.id in mine
                     and not regles.dans_les_bornes(it.type, it.minimum, it.maximum, *mine[it.id]))
        out[i] = (manquants, hors)
    return out


def saisir_items(session, *, actor, declaration_id: int, saisie: dict, now) -> int:
    """Save the yearly items typed in on a declaration: `saisie` maps an item id (or code) to the raw text. Every
    value is checked first (type, bounds) and the user's habilitation on each item's part (R60); one error and
    nothing is written (TransitionRefused listing the reasons). Then one upsert per item, an audit event, and the
    checks and estimate of every save (workflows.afas.enregistrer). Returns the number of values changed."""
    from .. import policy
    from . import afas
    q = sa.select(Decl).where(Decl.id == declaration_id)
    if actor is not None and (clause := policy.row_scope(Decl, actor)) is not None:
        q = q.where(clause)
    with session.no_autoflush:
        decl = session.execute(q).scalar_one_or_none()
        if decl is None:
            raise TransitionRefused("Déclaration introuvable.")
        afas.verifier_modifiable(decl)
        items = {it.id: it for it in items_actifs(session)}
        par_code = {it.code: it for it in items.values()}
        existantes = valeurs(session, decl.id)
    erreurs, lu = [], {}
    for key, brut in saisie.items():
        it = items.get(key) if isinstance(key, int) else par_code.get(str(key)) or items.get(
            int(key) if str(key).isdigit() else -1)
        if it is None:
            erreurs.append(f"Donnée annuelle inconnue ou retirée : {key}.")
            continue
        try:
            lu[it.id] = regles.lire_item(it.type, it.minimum, it.maximum, brut, libelle=it.libelle)
        except ValueError as exc:
            erreurs.append(str(exc))
    changes = {i: v for i, v in lu.items()
               if ((existantes[i].valeur_nombre, existantes[i].valeur_texte) if i in existantes else (None, None)) != v}
    for part in {items[i].part for i in changes}:
        try:
            afas.verifier_part(session, actor, decl.partenaire_id,
                               afas.PART_ACTIVITE if part == PartAfas.ACTIVITE else afas.PART_FINANCES)
        except WorkflowError as exc:
            erreurs.append(str(exc))
    if erreurs:
        raise ItemsRefuses(list(dict.fromkeys(erreurs)))
    if not changes:
        return 0
    for i, (nombre, texte) in changes.items():
        v = existantes.get(i)
        if v is None:
            session.add(Valeur(declaration_id=decl.id, item_id=i, valeur_nombre=nombre, valeur_texte=texte,
                               saisie_par_id=getattr(actor, "id", None)))
        else:
            v.valeur_nombre, v.valeur_texte, v.saisie_par_id = nombre, texte, getattr(actor, "id", None)
    session.flush()
    audit.record(session, entity="declaration_partenaire", entity_id=decl.id, action="saisir_items",
                 actor_id=getattr(actor, "id", None), at=now,
                 params={"items": sorted(items[i].code for i in changes)})
    for part in sorted({items[i].part for i in changes}):
        afas.enregistrer(session, [decl.id], actor=actor, now=now,
                         part=afas.PART_ACTIVITE if part == PartAfas.ACTIVITE else afas.PART_FINANCES)
    return len(changes)
