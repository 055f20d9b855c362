"""Afas payments (issue 15 §6, R79): the acomptes and the balance of the DECLARATION workflow become payables of the
AFAS programme in the payment chain (workflows/echeances.py), paid to the partner structure's account; a negative
balance becomes an ordre de reversement (workflows/reversements.py, recovered by workflows/recouvrement.py).

The exactly-once key of a payable is (source_type, source_id, periode). Both acomptes of a forecast are owed by the
same declaration, and may well be made payable in the same month (the actual of N-1 processed the month the
forecast of N is sent): their period is therefore the half-year each pays by R79, not the month they were made
payable — January of N for the 1st acompte, July of N for the 2nd (PERIODE_ACOMPTE). The key then tells them apart
without a new source type (no enum change, nothing for the integrator to re-chain), and it stays stable: a forecast
sent back and transmitted again in another month finds its acompte already there (ON CONFLICT DO NOTHING). The
balance is the payable of source « afas_solde » of the actual declaration, period January of its year.

Everything is set-based: one SELECT of the declarations and their partner, one `creer_echeances` call per kind.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..models import DeclarationPartenaire as Decl, Echeance, Reversement, Structure
from ..models.enums import (DeclarationStatut as S, DeclarationType, EcheanceStatut as ES, ReversementStatut as RS,
                            SourceEcheance as SE, TypeBeneficiairePaiement as TB)
from .engine import Guard, id_in
from .guards import iban_valide

PROGRAMME = "AFAS"
# R79 [derived]: the 1st acompte pays the first half of N, the 2nd the second half (the key's period)
PERIODE_ACOMPTE = {"acompte_1": 1, "acompte_2": 7}
LIBELLES = {"acompte_1": "1ER ACOMPTE", "acompte_2": "2E ACOMPTE", "solde": "SOLDE"}
ORIGINE_REVERSEMENT = "ecart_afas"  # models.reversements.ORIGINES: « Écart Afas » (acomptes above the droit)


def periode(kind: str, exercice: int) -> date:
    return date(exercice, PERIODE_ACOMPTE.get(kind, 1), 1)


def _rows(session, ids):
    return session.execute(
        sa.select(Decl.id, Decl.exercice, Decl.type, Decl.acompte_1, Decl.acompte_2, Decl.solde, Decl.partenaire_id,
                  Decl.reversement_id, Structure.code, Structure.nom, Structure.email, Structure.iban, Structure.bic)
        .join(Structure, Structure.id == Decl.partenaire_id)
        .where(id_in(session, Decl.id, list(ids))).order_by(Decl.id)).all()


def creer_echeances_afas(session, declaration_ids, kind: str, ctx) -> list[int]:
    """The hook of workflows.afas (`_creer_echeance_afas`): the payables (acompte_1, acompte_2, solde) or the
    reversements (reversement) of the given declarations, whose amount the transition has just written on them.
    A zero amount (the 70 % limit reached, R79) makes nothing payable."""
    from .echeances import LigneEcheance, creer_echeances
    rows = _rows(session, declaration_ids)
    if kind == "reversement":
        return _reversements(session, [r for r in rows if r.solde is not None and r.solde < 0], ctx)
    col = {"acompte_1": "acompte_1", "acompte_2": "acompte_2", "solde": "solde"}[kind]
    source = SE.AFAS_SOLDE if kind == "solde" else SE.AFAS_ACOMPTE
    lignes = [LigneEcheance(source_id=r.id, periode=periode(kind, r.exercice), payee_type=TB.PARTENAIRE,
                            payee_id=r.partenaire_id, montant=getattr(r, col), iban=r.iban or "", bic=r.bic,
                            titulaire=r.nom[:70], libelle=f"CAF PS ESPACE RENCONTRE {r.exercice} {LIBELLES[kind]} "
                                                          f"{r.code}")
              for r in rows if getattr(r, col) is not None and getattr(r, col) > 0]
    manquants = [r.nom for r in rows if not r.iban]
    if manquants and lignes:  # the guards refuse this first; a direct call says it too
        raise ValueError(f"IBAN du service absent ({', '.join(manquants[:3])}) : aucune échéance Afas créée (R76).")
    return creer_echeances(session, source, lignes, ctx, dispositif_code=PROGRAMME) if lignes else []


def _reversements(session, rows, ctx) -> list[int]:
    """R79 [derived]: a balance below what was paid is an overpayment to recover from the partner: an order of
    origin Afas on the AFAS programme, once per actual declaration (kept on it: `reversement_id`)."""
    from .echeances import dispositif_programme
    from .reversements import emettre_reversements
    rows = [r for r in rows if r.reversement_id is None]
    if not rows:
        return []
    dispositif_id = dispositif_programme(session, PROGRAMME).id
    lignes = [{"origine": ORIGINE_REVERSEMENT, "debiteur_type": TB.PARTENAIRE.value, "debiteur_id": r.partenaire_id,
               "dispositif_id": dispositif_id, "antenne_id": r.partenaire_id, "montant": -r.solde,
               "motif": f"Solde Afas {r.exercice} négatif (déclaration réelle n° {r.id}) : acomptes versés "
                        f"supérieurs au droit retenu (R79).",
               "debiteur_nom": r.nom[:140], "debiteur_email": r.email} for r in rows]
    ids = emettre_reversements(session, lignes, ctx)
    table = Decl.__table__
    session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                    .values(reversement_id=sa.bindparam("b_rev")),
                    [{"b_id": r.id, "b_rev": rid} for r, rid in zip(rows, ids)])
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Decl) and obj.id in {r.id for r in rows}:
            session.expire(obj, ["reversement_id"])
    return ids


# ---- guards of the DECLARATION workflow: the partner's account (R76) ------------------------------------------
def _iban_service(type_):
    """The declarations of `type_` (those whose step makes something payable) need their service's IBAN, valid
    (schwifty with the RIB key, once per distinct IBAN of the chunk); the others pass."""
    def resolve(session, ids, ctx):
        ibans = session.execute(sa.select(Structure.iban).distinct().join(Decl, Decl.partenaire_id == Structure.id)
                                .where(id_in(session, Decl.id, ids), Structure.iban.is_not(None))).scalars().all()
        valides = sorted(i for i in ibans if iban_valide(i))
        ok = sa.exists().where(Structure.id == Decl.partenaire_id,
                               Structure.iban.in_(valides) if valides else sa.false())
        return sa.or_(Decl.type != type_, ok)
    return resolve


MSG_IBAN = ("IBAN du service absent ou invalide : à renseigner dans sa fiche (Référentiel › Structures) avant tout "
            "paiement")
IBAN_PREVISIONNELLE = Guard("R76", MSG_IBAN, resolve=_iban_service(DeclarationType.PREVISIONNELLE))
IBAN_REELLE = Guard("R76", MSG_IBAN, resolve=_iban_service(DeclarationType.REELLE))


# ---- the payer's controls (workflows.echeances.controles_sources) ---------------------------------------------
def controles_afas(select, echeance=Echeance):
    """Outer-join each Afas payable's declaration; the CASE arms: the declaration reached the step that made it
    payable (a forecast transmitted for an acompte, an actual processed for the balance) and the amount is within
    what the declaration owes."""
    d = sa.orm.aliased(Decl)
    is_acompte = echeance.source_type == SE.AFAS_ACOMPTE
    is_solde = echeance.source_type == SE.AFAS_SOLDE
    select = select.outerjoin(d, sa.and_(sa.or_(is_acompte, is_solde), d.id == echeance.source_id))
    second = sa.extract("month", echeance.periode) == PERIODE_ACOMPTE["acompte_2"]
    acompte = sa.case((second, d.acompte_2), else_=d.acompte_1)
    arms = [
        (sa.and_(is_acompte, sa.not_(sa.func.coalesce(
            sa.and_(d.type == DeclarationType.PREVISIONNELLE, d.statut.in_([S.TRANSMISE, S.EN_TRAITEMENT, S.TRAITEE])),
            sa.false()))), "déclaration prévisionnelle Afas non transmise (R79)"),
        (sa.and_(is_acompte, echeance.montant > sa.func.coalesce(acompte, 0)),
         "montant supérieur à l'acompte de la déclaration (R79)"),
        (sa.and_(is_solde, sa.not_(sa.func.coalesce(
            sa.and_(d.type == DeclarationType.REELLE, d.statut == S.TRAITEE), sa.false()))),
         "déclaration réelle Afas non traitée (R79)"),
        (sa.and_(is_solde, echeance.montant > sa.func.coalesce(d.solde, 0)),
         "montant supérieur au solde de la déclaration (R79)"),
    ]
    return select, arms


# ---- the tableau de suivi: what the payment chain paid ---------------------------------------------------------
def verse_par_declaration(session, declaration_ids) -> dict[int, dict[str, Decimal]]:
    """For each declaration: {"a_payer": …, "en_paiement": …, "paye": …} of its Afas payables (paid: the payable is
    « payée », its transfer executed or offset), and {"a_reverser": …} of the orders its negative balance made."""
    ids = list(declaration_ids)
    out: dict[int, dict[str, Decimal]] = {i: {"a_payer": Decimal("0.00"), "en_paiement": Decimal("0.00"),
                                              "paye": Decimal("0.00"), "a_reverser": Decimal("0.00")} for i in ids}
    if not ids:
        return out
    rows = session.execute(
        sa.select(Echeance.source_id, Echeance.statut, sa.func.sum(Echeance.montant))
        .where(Echeance.source_type.in_([SE.AFAS_ACOMPTE, SE.AFAS_SOLDE]), id_in(session, Echeance.source_id, ids))
        .group_by(Echeance.source_id, Echeance.statut)).all()
    key = {ES.A_PAYER: "a_payer", ES.REJETEE: "a_payer", ES.EN_LOT: "en_paiement", ES.PAYEE: "paye"}
    for source_id, statut, total in rows:
        k = key.get(statut)
        if k is not None:
            out[source_id][k] += total
    for i, reste in session.execute(
            sa.select(Decl.id, Reversement.reste_du).join(Reversement, Reversement.id == Decl.reversement_id)
            .where(id_in(session, Decl.id, ids), Reversement.statut != RS.ANNULE)).all():
        out[i]["a_reverser"] += reste
    return out
