"""Allocation life cycle: enregistree → soumise → validee_siege → transmise → acceptee → versee | refusee.

Corrections (R46) create a new version (nature `rectificative`, corrige_id → the version it corrects);
its differential is a complementary payment or a trop-perçu that becomes an ordre de reversement (R47).
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import policy
from ..models import (Allocation, Cerfa, CompteBancaire, DemandeHorsDelai, Dispositif, Paiement,
                      Reversement)
from ..models.enums import (AllocationNature as N, AllocationStatut as S, CerfaStatut, HorsDelaiStatut,
                            PaiementStatut, ReversementStatut, Role as R)
from .engine import Guard, Param, T, Workflow, id_in
from .guards import iban_valide

CERFA_VALIDE = (CerfaStatut.VALIDE_SIEGE, CerfaStatut.TRANSMIS, CerfaStatut.ACCEPTE)
EN_COURS = (S.ENREGISTREE, S.SOUMISE)
VALIDEES = (S.VALIDEE_SIEGE, S.TRANSMISE, S.ACCEPTEE, S.VERSEE)


def deja_verse_expr(alloc=Allocation):
    """Net amount already paid for this youth, enrolment and month over the earlier versions:
    payments issued or executed, minus reversements raised (not cancelled)."""
    other = aliased(Allocation)
    chain = sa.select(other.id).where(other.inscription_id == alloc.inscription_id,
                                      other.mois == alloc.mois, other.id != alloc.id, other.id < alloc.id)
    paid = sa.select(sa.func.coalesce(sa.func.sum(Paiement.montant), 0)).where(
        Paiement.allocation_id.in_(chain), Paiement.statut.in_([PaiementStatut.EMIS, PaiementStatut.EXECUTE]))
    reversed_ = sa.select(sa.func.coalesce(sa.func.sum(Reversement.montant), 0)).where(
        Reversement.allocation_id.in_(chain), Reversement.statut != ReversementStatut.ANNULE)
    return paid.scalar_subquery() - reversed_.scalar_subquery()


def differentiel_expr(alloc=Allocation):
    """R46: corrected amount minus what was already paid (> 0 complement, < 0 trop-perçu)."""
    return alloc.montant - deja_verse_expr(alloc)


# ---- guards (each a SQL predicate over Allocation, True = allowed) -------------------------------
def _pas_entree(ctx):
    return Allocation.nature != N.ENTREE  # R42


def _premiere_validee(ctx):
    # R43: the next allocation may be submitted only once the earlier ones are validated
    prev = aliased(Allocation)
    return ~sa.exists().where(prev.inscription_id == Allocation.inscription_id, prev.mois < Allocation.mois,
                              prev.corrige_id.is_(None), prev.statut.in_(EN_COURS))


def _premiere_non_validee(session, ids, ctx) -> dict[int, str]:
    """R43/E7: name the earliest allocation that still waits for the siège (its number and month)."""
    prev = aliased(Allocation)
    rows = session.execute(
        sa.select(Allocation.id, prev.id, prev.mois, prev.nature)
        .join(prev, sa.and_(prev.inscription_id == Allocation.inscription_id, prev.mois < Allocation.mois,
                            prev.corrige_id.is_(None), prev.statut.in_(EN_COURS)))
        .where(id_in(session, Allocation.id, ids)).order_by(Allocation.id, prev.mois, prev.id)).all()
    out: dict[int, str] = {}
    for ident, prev_id, mois, nature in rows:
        if ident not in out:
            quoi = "allocation d'entrée" if nature == N.ENTREE else "allocation"
            out[ident] = (f"{quoi} n° {prev_id} de {mois:%m/%Y} (validée par le siège avec le cerfa)"
                          if nature == N.ENTREE else f"{quoi} n° {prev_id} de {mois:%m/%Y}")
    return out


def _non_forclos(ctx):
    # R36: a month more than 3 months before the complete file (its submission) is lost for good; a
    # corrective version adjusts a month already paid in time and is not concerned
    from ..rules.calendrier import premier_mois_non_forclos
    return sa.or_(Allocation.corrige_id.is_not(None),
                  Allocation.mois >= premier_mois_non_forclos(ctx.now.date()))


def _plafond_annuel_pacea(ctx):
    # R34: the PACEA granted over the calendar year stays within the annual cap, this allocation
    # included (latest version of each month, neither refused nor replaced)
    from ..rules.params import PACEA, PLAFONDS_PACEA
    other, suivante = aliased(Allocation), aliased(Allocation)
    annee = sa.extract("year", other.mois) == sa.extract("year", Allocation.mois)
    total = (sa.select(sa.func.coalesce(sa.func.sum(other.montant), 0))
             .where(other.beneficiaire_id == Allocation.beneficiaire_id, other.dispositif_id == Allocation.dispositif_id,
                    annee, other.mois != Allocation.mois, other.statut.notin_([S.REFUSEE, S.REMPLACEE]),
                    ~sa.exists().where(suivante.corrige_id == other.id, suivante.statut != S.REFUSEE))
             .scalar_subquery())
    pacea = sa.select(Dispositif.id).where(Dispositif.code == PACEA).scalar_subquery()
    return sa.or_(Allocation.dispositif_id != pacea, Allocation.corrige_id.is_not(None),
                  total + Allocation.montant <= PLAFONDS_PACEA.annuel)


def _cerfa_valide(ctx):
    # R41/R45/R39: the cerfa is validated by the siège and carries a RIB
    return sa.exists().where(Cerfa.id == Allocation.cerfa_id, Cerfa.statut.in_(CERFA_VALIDE),
                             Cerfa.compte_bancaire_id.is_not(None))


def _allocation_autorisee(ctx):
    # R6: no allowance on a diagnostic (nor on any dispositif without allowance)
    return sa.exists().where(Dispositif.id == Allocation.dispositif_id, Dispositif.allocation_autorisee.is_(True))


def _une_par_mois(ctx):
    # R15/R20: never two allowances for one youth and month (CEJ and PACEA never together)
    other = aliased(Allocation)
    return ~sa.exists().where(other.beneficiaire_id == Allocation.beneficiaire_id, other.mois == Allocation.mois,
                              other.id != Allocation.id, other.corrige_id.is_(None),
                              Allocation.corrige_id.is_(None),
                              other.statut.notin_([S.REFUSEE, S.REMPLACEE]))


def _hors_delai_approuve(ctx):
    # R48: a late allocation needs a manager's approval, bound to the month and amount approved
    return sa.or_(Allocation.hors_delai.is_(False), sa.exists().where(
        DemandeHorsDelai.id == Allocation.demande_hors_delai_id,
        DemandeHorsDelai.statut == HorsDelaiStatut.APPROUVEE,
        DemandeHorsDelai.montant_approuve == Allocation.montant,
        DemandeHorsDelai.mois_approuve == Allocation.mois))


def _montant_positif(ctx):
    return sa.or_(Allocation.corrige_id.is_not(None), Allocation.montant > 0)


def _complement_positif(ctx):
    # R46: a correction is paid only for a positive differential; a trop-perçu goes to reversement
    return sa.or_(Allocation.corrige_id.is_(None), differentiel_expr() > 0)


def _trop_percu(ctx):
    return sa.and_(Allocation.corrige_id.is_not(None), differentiel_expr() < 0)


def _rib_iban_valide_sql(session, ids, ctx):
    """R76 as a SQL guard for this chunk: schwifty (French RIB key) runs once per distinct IBAN of the
    chunk's accounts, then the predicate is "no account IBAN outside the ones found valid". The UPDATE
    re-reads the IBAN: an account changed meanwhile to an IBAN not checked here is refused, never moved.
    An allocation without cerfa or RIB passes here and is refused by R45 (checked before)."""
    ibans = session.execute(sa.select(CompteBancaire.iban).distinct()
                            .join(Cerfa, Cerfa.compte_bancaire_id == CompteBancaire.id)
                            .join(Allocation, Allocation.cerfa_id == Cerfa.id)
                            .where(id_in(session, Allocation.id, ids))).scalars().all()
    valides = sorted(i for i in ibans if iban_valide(i))
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY
        hors_liste = CompteBancaire.iban != sa.all_(sa.bindparam(None, valides, type_=ARRAY(sa.String)))
    else:
        hors_liste = CompteBancaire.iban.notin_(valides)
    return ~sa.exists().where(Cerfa.id == Allocation.cerfa_id, CompteBancaire.id == Cerfa.compte_bancaire_id,
                              hors_liste)


PAS_ENTREE = Guard("R42", "l'allocation d'entrée n'est jamais soumise par le conseiller (validée avec le cerfa)", _pas_entree)
PREMIERE_VALIDEE = Guard("R43", "allocation précédente non validée par le siège", _premiere_validee,
                         detail=_premiere_non_validee)
ENTREE_SEULEMENT = Guard("R42", "seule une allocation d'entrée se valide ainsi", lambda ctx: Allocation.nature == N.ENTREE)
FORCLUSION = Guard("R36", "mois forclos : plus de 3 mois avant le dossier complet, le montant est perdu",
                   _non_forclos)
PLAFOND_PACEA = Guard("R34", "plafond annuel PACEA dépassé sur l'année civile", _plafond_annuel_pacea)
CERFA_VALIDE_G = Guard("R45", "cerfa non validé par le siège ou sans RIB", _cerfa_valide)
AUTORISEE = Guard("R6", "pas d'allocation sur ce dispositif (diagnostic)", _allocation_autorisee)
UNE_PAR_MOIS = Guard("R15", "une allocation existe déjà pour ce jeune et ce mois", _une_par_mois)
HORS_DELAI = Guard("R48", "hors délai : approbation d'un manager requise (même mois et même montant)", _hors_delai_approuve)
MONTANT = Guard("R25", "montant nul : rien à payer", _montant_positif)
COMPLEMENT = Guard("R47", "trop-perçu : émettre un ordre de reversement au lieu d'un paiement", _complement_positif)
TROP_PERCU = Guard("R47", "pas de trop-perçu sur cette allocation", _trop_percu)
RIB_VALIDE = Guard("R76", "IBAN du RIB invalide (clé RIB ou format)", resolve=_rib_iban_valide_sql)

MOTIF = Param("motif_refus", "Motif du refus", kind="textarea")


def _effect_creer_paiements(session, ids, ctx):
    from .paiements import creer_paiements
    creer_paiements(session, ids, actor_id=ctx.actor_id, now=ctx.now)


def _effect_mail_refus(session, ids, ctx):
    from .notifications import notifier_allocations_refusees
    notifier_allocations_refusees(session, ids, ctx)


def _effect_reversement(session, ids, ctx):
    from .reversements import creer_reversements
    creer_reversements(session, ids, ctx)


ALLOCATION = Workflow("allocation", Allocation, [
    # Guards in order of specificity: the first failing one is the reason given (issue 11: R43 names
    # the allocation to wait for, even when the cerfa is not validated yet either, E7)
    T("soumettre", "Soumettre", {S.ENREGISTREE}, S.SOUMISE, {R.CONSEILLER},
      guards=[PAS_ENTREE, PREMIERE_VALIDEE, AUTORISEE, HORS_DELAI, FORCLUSION, CERFA_VALIDE_G, UNE_PAR_MOIS,
              PLAFOND_PACEA],
      values=lambda ctx: {"soumise_at": ctx.now}),
    T("valider", "Valider (siège)", {S.SOUMISE}, S.VALIDEE_SIEGE, {R.SIEGE},
      guards=[AUTORISEE, CERFA_VALIDE_G, UNE_PAR_MOIS, HORS_DELAI],
      values=lambda ctx: {"validee_at": ctx.now}, style="success"),
    # R40/R42: run by the cerfa's validation; offered to the siège too for an entry allocation recorded
    # after its cerfa was validated (the conseiller never submits it: without this it stayed enregistrée)
    T("valider_entree", "Valider l'allocation d'entrée", {S.ENREGISTREE}, S.VALIDEE_SIEGE, {R.SIEGE},
      guards=[ENTREE_SEULEMENT, AUTORISEE, CERFA_VALIDE_G, UNE_PAR_MOIS], values=lambda ctx: {"validee_at": ctx.now},
      style="success"),
    T("refuser", "Refuser", {S.SOUMISE, S.VALIDEE_SIEGE}, S.REFUSEE, {R.SIEGE}, params=[MOTIF],
      values=lambda ctx: {"motif_refus": ctx.params["motif_refus"]}, effects=[_effect_mail_refus],
      style="danger"),
    T("transmettre", "Envoyer en paiement", {S.VALIDEE_SIEGE}, S.TRANSMISE, {R.SIEGE},
      guards=[CERFA_VALIDE_G, RIB_VALIDE, MONTANT, COMPLEMENT],
      values=lambda ctx: {"transmise_at": ctx.now}, effects=[_effect_creer_paiements]),
    T("emettre_reversement", "Émettre l'ordre de reversement", {S.VALIDEE_SIEGE}, S.ACCEPTEE, {R.COMPTABLE},
      guards=[TROP_PERCU], effects=[_effect_reversement], style="warning"),
], amount_column="montant", scope=policy.row_scope)

CORRIGEABLES = (S.ACCEPTEE, S.VERSEE, S.REFUSEE)  # R46: the pencil edit only in these states
