"""Allocation life cycle: enregistree → soumise → validee_siege → transmise → acceptee → versee | refusee.

Corrections (R46) create a new version (nature `rectificative`, corrige_id → the version it corrects);
its differential is a complementary payment or a trop-perçu that becomes an ordre de reversement (R47).
"""

from __future__ import annotations


import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import policy
from ..models import (Allocation, Cerfa, CompteBancaire, DemandeHorsDelai, Dispositif, Paiement,
                      Reversement)
from ..models.enums import (AllocationNature as N, AllocationStatut as S, CerfaStatut, HorsDelaiStatut,
                            PaiementStatut, ReversementStatut, Role as R)
from .engine import Guard, Param, T, Workflow, id_in
from .guards import iban_valide
from .parcours import PARCOURS_OUVERT  # issue 17: an allocation needs an enrolment open for its month

CERFA_VALIDE = (CerfaStatut.VALIDE_SIEGE, CerfaStatut.TRANSMIS, CerfaStatut.ACCEPTE)
EN_COURS = (S.ENREGISTREE, S.SOUMISE)
VALIDEES = (S.VALIDEE_SIEGE, S.TRANSMISE, S.ACCEPTEE, S.VERSEE)


def deja_verse_expr(alloc=Allocation):
    """Net amount already paid for this youth, enrolment and month over the earlier versions:
    payments issued or executed, minus reversements raised (not cancelled).

    The versions' list sits two levels below the outer allocation (inside each sum's IN): SQLAlchemy
    auto-correlates only to the immediately enclosing SELECT, so without the explicit `.correlate(alloc)`
    it listed `allocation` again in its own FROM and summed every corrected allocation of the table
    (issue 11; tests/workflows/test_correlation.py compiles every guard to keep it so)."""
    other = aliased(Allocation)
    chain = (sa.select(other.id)
             .where(other.inscription_id == alloc.inscription_id, other.mois == alloc.mois, other.id < alloc.id)
             .correlate(alloc))
    paid = sa.select(sa.func.coalesce(sa.func.sum(Paiement.montant), 0)).where(
        Paiement.allocation_id.in_(chain), Paiement.statut.in_([PaiementStatut.EMIS, PaiementStatut.EXECUTE]))
    reversed_ = sa.select(sa.func.coalesce(sa.func.sum(Reversement.montant), 0)).where(
        Reversement.allocation_id.in_(chain), Reversement.statut != ReversementStatut.ANNULE)
    # R47: what was offset on those payments reached the youth too (recouvrement.imputer_compensations)
    from ..models import Compensation
    offset = sa.select(sa.func.coalesce(sa.func.sum(Compensation.montant), 0)).where(Compensation.paiement_id.in_(
        sa.select(Paiement.id).where(Paiement.allocation_id.in_(chain), Paiement.statut.in_(
            [PaiementStatut.EMIS, PaiementStatut.EXECUTE, PaiementStatut.COMPENSE]))))
    return paid.scalar_subquery() + offset.scalar_subquery() - reversed_.scalar_subquery()


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
    # R41/R45/R39: the cerfa is validated by the siège and carries a RIB. A scalar subquery on the cerfa's primary
    # key, not an EXISTS: under the engine's COALESCE the planner hashed the EXISTS, i.e. read the whole cerfa
    # table for every chunk (quadratic at 1,000,000 rows, issues 13 and 20); a scalar subquery is probed per row
    return sa.func.coalesce(
        sa.select(sa.and_(Cerfa.statut.in_(CERFA_VALIDE), Cerfa.compte_bancaire_id.is_not(None)))
        .where(Cerfa.id == Allocation.cerfa_id).correlate(Allocation).scalar_subquery(), sa.false())


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


def a_payer_expr(alloc=Allocation):
    """What sending to payment pays: a first version's amount, a correction's differential (R46)."""
    return sa.case((alloc.corrige_id.is_(None), alloc.montant), else_=differentiel_expr(alloc))


def _rien_a_payer(ctx):
    # R25/R46: nothing to pay (amount 0, or a correction whose differential is 0): closed, never paid
    return a_payer_expr() == 0


def _complement_positif(ctx):
    # R46/R47: a correction goes to payment for a differential ≥ 0 (0: closed, nothing to pay, nothing to
    # recover); a trop-perçu goes to reversement
    return sa.or_(Allocation.corrige_id.is_(None), differentiel_expr() >= 0)


def _trop_percu(ctx):
    return sa.and_(Allocation.corrige_id.is_not(None), differentiel_expr() < 0)


def _rib_iban_valide_sql(session, ids, ctx):
    """R76 as a SQL guard for this chunk: schwifty (French RIB key) runs once per distinct IBAN of the
    chunk's accounts, then the predicate is "no account IBAN outside the ones found valid". The UPDATE
    re-reads the IBAN: an account changed meanwhile to an IBAN not checked here is refused, never moved.
    An allocation without cerfa or RIB passes here and is refused by R45 (checked before)."""
    # each allocation's IBAN by primary keys (a scalar subquery per row): the join was planned as hash joins over
    # the whole cerfa and compte_bancaire tables for every chunk (quadratic at 1,000,000 rows, issues 13 and 20)
    iban = (sa.select(CompteBancaire.iban).select_from(Cerfa)
            .join(CompteBancaire, CompteBancaire.id == Cerfa.compte_bancaire_id)
            .where(Cerfa.id == Allocation.cerfa_id).correlate(Allocation).scalar_subquery())
    ibans = [i for i in session.execute(sa.select(iban).distinct().where(id_in(session, Allocation.id, ids))
                                        ).scalars().all() if i is not None]
    valides = sorted(i for i in ibans if iban_valide(i))
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY
        hors_liste = CompteBancaire.iban != sa.all_(sa.bindparam(None, valides, type_=ARRAY(sa.String)))
    else:
        hors_liste = CompteBancaire.iban.notin_(valides)
    # per row by primary keys (see _cerfa_valide: a hashed EXISTS read both tables whole for every chunk)
    return sa.not_(sa.func.coalesce(
        sa.select(hors_liste).select_from(Cerfa).join(CompteBancaire, CompteBancaire.id == Cerfa.compte_bancaire_id)
        .where(Cerfa.id == Allocation.cerfa_id).correlate(Allocation).scalar_subquery(), sa.false()))


def _rib_change_apres_rejet(ctx):
    # Issue 13 (bank returns): paid again after a rejection only to another account: the IBAN of its RIB
    # must differ from the one of its last rejected payment (the literal status matches the partial index)
    rejete = sa.literal_column("'rejete'")
    last = (sa.select(sa.func.max(Paiement.id)).where(Paiement.allocation_id == Allocation.id,
                                                      Paiement.statut == rejete).correlate(Allocation))
    norm = lambda col: sa.func.upper(sa.func.replace(col, " ", ""))  # noqa: E731
    return ~sa.exists().where(Paiement.id == last.scalar_subquery(), Cerfa.id == Allocation.cerfa_id,
                              CompteBancaire.id == Cerfa.compte_bancaire_id,
                              norm(CompteBancaire.iban) == norm(Paiement.iban))


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
MONTANT = Guard("R25", "montant à payer non nul : l'allocation part en paiement", _rien_a_payer)
COMPLEMENT = Guard("R47", "trop-perçu : émettre un ordre de reversement au lieu d'un paiement", _complement_positif)
TROP_PERCU = Guard("R47", "pas de trop-perçu sur cette allocation", _trop_percu)
RIB_CHANGE = Guard("rejet", "dernier paiement rejeté par la banque sur ce RIB : faites changer le RIB avant de "
                   "repayer", _rib_change_apres_rejet)
RIB_VALIDE = Guard("R76", "IBAN du RIB invalide (clé RIB ou format)", resolve=_rib_iban_valide_sql)

MOTIF = Param("motif_refus", "Motif du refus", kind="textarea")


def _effect_creer_paiements(session, ids, ctx):
    from .paiements import creer_paiements
    creer_paiements(session, ids, actor_id=ctx.actor_id, now=ctx.now, dispositifs=ctx.groupes)


def _effect_rien_a_payer(session, ids, ctx):
    """Effect of `transmettre`: what has nothing to pay (R25, or a correction's differential 0, R46) is
    closed « rien à payer » by its own transition, in the same transaction (no payment was created)."""
    from .engine import run
    from .selection import Selection
    nuls = session.execute(sa.select(Allocation.id).where(id_in(session, Allocation.id, ids),
                                                          a_payer_expr() == 0)).scalars().all()
    if nuls:
        run(session, ALLOCATION, "clore_rien_a_payer", Selection.of_ids(sorted(nuls)), None, now=ctx.now,
            system=True, bulk_run_id=ctx.bulk_run_id)


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
              PLAFOND_PACEA, PARCOURS_OUVERT],
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
      guards=[CERFA_VALIDE_G, RIB_VALIDE, RIB_CHANGE, COMPLEMENT],
      values=lambda ctx: {"transmise_at": ctx.now}, effects=[_effect_creer_paiements, _effect_rien_a_payer],
      groups="dispositif_id"),
    # R25/R46: applied by `transmettre` to what has nothing to pay; terminal (correctable, R46)
    T("clore_rien_a_payer", "Clore : rien à payer", {S.TRANSMISE}, S.RIEN_A_PAYER, {R.SIEGE},
      guards=[MONTANT], system=True, style="secondary"),
    # issue 13: the bank rejected its payment (workflows/retours_banque.py): back to « à repayer », audited
    T("rejet_bancaire", "Rejet bancaire : à repayer", {S.TRANSMISE, S.ACCEPTEE, S.VERSEE}, S.VALIDEE_SIEGE,
      {R.COMPTABLE}, params=[Param("motif_rejet", "Motif du rejet bancaire")], system=True, style="warning"),
    T("verser", "Versée (exécution confirmée par la banque)", {S.ACCEPTEE}, S.VERSEE, {R.COMPTABLE},
      values=lambda ctx: {"versee_at": ctx.now}, system=True, style="success"),
    T("emettre_reversement", "Émettre l'ordre de reversement", {S.VALIDEE_SIEGE}, S.ACCEPTEE, {R.COMPTABLE},
      guards=[TROP_PERCU], effects=[_effect_reversement], style="warning"),
], amount_column="montant", scope=policy.row_scope)

CORRIGEABLES = (S.ACCEPTEE, S.VERSEE, S.REFUSEE, S.RIEN_A_PAYER)  # R46: the pencil edit only in these states
