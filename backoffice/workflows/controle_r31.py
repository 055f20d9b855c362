"""R31: a youth's self-employed income is taken on declaration, then checked on the quarterly or annual proof.

`controler_revenus_independant` compares, over a period of an enrolment, the self-employed income declared on
its paid allocations with the proven income. Proven above declared: the excess is shared evenly over the
months (cents, the remainder on the last), each month is computed again by the same rules (R21-R37, on the
corrected lines) and what was paid beyond the new amount becomes an ordre de reversement (origin
`controle_r31`, one per allocation). No proof: the allowance paid on the unproven declarations is claimed back
(`[derived]`: S001 says only that a title is raised). A month already controlled is never claimed twice (an
order of this origin on its allocation), so running the same control again issues nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa

from ..models import Allocation, Inscription, Reversement
from ..models.enums import AllocationStatut as AS
from ..rules.montants import TypeRessource
from . import audit
from .engine import Context
from .errors import TransitionRefused

MICRO = str(TypeRessource.MICRO_ENTREPRENEUR)
VERSEES = (AS.ACCEPTEE, AS.VERSEE)
CENT = Decimal("0.01")


def _parts(total: Decimal, n: int) -> list[Decimal]:
    """`total` shared in n parts, in cents, the remainder on the last."""
    part = (total / n).quantize(CENT, rounding=ROUND_DOWN)
    return [part] * (n - 1) + [total - part * (n - 1)]


def controler_revenus_independant(session, *, inscription_id: int, debut: date, fin: date,
                                  revenu_justifie: Decimal | None, actor, now: datetime) -> dict:
    """R31 over the months debut..fin of an enrolment. Returns {declare, justifie, indu, reversements, mois}.
    Refused (TransitionRefused, nothing written) when no paid allocation of the period rests on a declared
    self-employed income. Does not commit."""
    from .reversements import emettre_reversements
    from .saisie import calculer
    insc = session.get(Inscription, inscription_id)
    if insc is None:
        raise TransitionRefused("Parcours introuvable.")
    debut, fin = debut.replace(day=1), fin.replace(day=1)
    if fin < debut:
        raise TransitionRefused("La fin de la période précède son début.")
    if revenu_justifie is not None and (not revenu_justifie.is_finite() or revenu_justifie < 0
                                        or revenu_justifie != revenu_justifie.quantize(CENT)):
        raise TransitionRefused("Le revenu justifié est un montant positif à deux décimales.")
    deja = sa.exists().where(Reversement.allocation_id == Allocation.id, Reversement.origine == "controle_r31")
    allocations = session.execute(
        sa.select(Allocation).where(Allocation.inscription_id == insc.id, Allocation.mois.between(debut, fin),
                                    Allocation.statut.in_(VERSEES), sa.not_(deja))
        .order_by(Allocation.mois)).scalars().all()
    declarees = [a for a in allocations if any(str(r.type_ressource) == MICRO for r in a.ressources)]
    if not declarees:
        raise TransitionRefused("Aucune allocation versée sur des revenus d'indépendant déclarés dans cette période "
                                "(ou déjà contrôlée) (R31).")
    declare = sum((r.montant for a in declarees for r in a.ressources if str(r.type_ressource) == MICRO), Decimal("0"))
    indus: list[tuple[Allocation, Decimal]] = []
    if revenu_justifie is None:  # no proof: what was paid on the unproven declarations
        indus = [(a, a.montant) for a in declarees if a.montant > 0]
    elif revenu_justifie > declare:
        for a, part in zip(declarees, _parts(revenu_justifie - declare, len(declarees))):
            lignes, ajoute = [], False
            for r in a.ressources:
                montant = r.montant + (part if str(r.type_ressource) == MICRO and not ajoute else 0)
                ajoute = ajoute or str(r.type_ressource) == MICRO
                lignes.append((r.type_ressource, montant))
            du = calculer(session, insc, a.mois, lignes, ressources_differentielles=a.ressources_differentielles,
                          cerfa=a.cerfa, montant_demande=a.montant).montant
            if a.montant > du:
                indus.append((a, a.montant - du))
    ctx = Context(actor_id=getattr(actor, "id", None), role=getattr(actor, "role", None), now=now, params={})
    b = insc.beneficiaire
    motif = ("Contrôle des revenus d'indépendant (R31) : " +
             ("aucun justificatif produit" if revenu_justifie is None else
              f"revenu justifié {revenu_justifie} € pour {declare} € déclarés"))
    ids = emettre_reversements(session, [dict(
        origine="controle_r31", debiteur_type="jeune", debiteur_id=b.id, beneficiaire_id=b.id, allocation_id=a.id,
        dispositif_id=insc.dispositif_id, antenne_id=insc.antenne_id, montant=montant,
        motif=f"{motif} — allocation de {a.mois:%m/%Y}", debiteur_nom=f"{b.prenom} {b.nom}",
        debiteur_email=b.email) for a, montant in indus], ctx) if indus else []
    total = sum((m for _, m in indus), Decimal("0.00"))
    audit.record(session, entity="inscription", entity_id=insc.id, action="controle_r31", actor_id=ctx.actor_id,
                 params={"debut": debut, "fin": fin, "declare": declare, "justifie": revenu_justifie, "indu": total,
                         "reversements": ids})
    return {"declare": declare, "justifie": revenu_justifie, "indu": total, "reversements": ids,
            "mois": [a.mois for a in declarees]}
