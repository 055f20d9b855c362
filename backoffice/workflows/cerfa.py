"""Cerfa life cycle: saisi → signe_recu → valide_siege → transmis → accepte | refuse (refused: corrected, sent again)."""

from __future__ import annotations

import sqlalchemy as sa

from .. import policy
from ..models import Allocation, Beneficiaire, Cerfa, CompteBancaire, Dispositif, Inscription
from ..models.enums import AllocationNature, AllocationStatut, CerfaStatut as S, Role as R
from .engine import Guard, Param, T, Workflow
from .guards import iban_invalides

MOTIF = Param("motif_refus", "Motif du refus", kind="textarea")
RIB_A_REVALIDER = frozenset({S.VALIDE_SIEGE, S.TRANSMIS, S.ACCEPTE})  # validated by the siège, or later


def _rib_present(ctx):
    # R39: a cerfa carries a RIB before any allowance is paid
    return sa.exists().where(CompteBancaire.id == Cerfa.compte_bancaire_id, CompteBancaire.actif.is_(True))


def _rib_iban_invalides(session, ids, ctx):
    rows = session.execute(sa.select(Cerfa.id, CompteBancaire.iban).join(
        CompteBancaire, CompteBancaire.id == Cerfa.compte_bancaire_id).where(Cerfa.id.in_(ids))).all()
    return iban_invalides(rows)


def _titulaire_longueur(ctx):
    # R38: holder ≤ 38 characters on the PACEA cerfa, ≤ 49 on the CEJ cerfa
    return sa.exists().where(
        Inscription.id == Cerfa.inscription_id, Dispositif.id == Inscription.dispositif_id,
        sa.or_(Dispositif.longueur_max_titulaire.is_(None), Cerfa.titulaire_rib.is_(None),
               sa.func.length(Cerfa.titulaire_rib) <= Dispositif.longueur_max_titulaire))


def _agdref(ctx):
    # R14: non-EEA youths need their AGDREF number and permit end date
    return sa.exists().where(
        Inscription.id == Cerfa.inscription_id, Beneficiaire.id == Inscription.beneficiaire_id,
        sa.or_(Beneficiaire.ressortissant_eee.is_(True),
               sa.and_(Beneficiaire.numero_agdref.is_not(None), Beneficiaire.date_fin_titre_sejour.is_not(None))))


def _france_travail(ctx):
    # R13: PACEA entries need France Travail registration (and CEJ from 2025)
    return sa.exists().where(
        Inscription.id == Cerfa.inscription_id, Beneficiaire.id == Inscription.beneficiaire_id,
        Dispositif.id == Inscription.dispositif_id,
        sa.or_(Dispositif.france_travail_requis.is_(False), Beneficiaire.inscrit_france_travail.is_(True)))


RIB_PRESENT = Guard("R39", "RIB absent du cerfa", _rib_present)
RIB_VALIDE = Guard("R76", "IBAN du RIB invalide (clé RIB ou format)", python=_rib_iban_invalides)
TITULAIRE = Guard("R38", "nom du titulaire du RIB trop long pour ce cerfa", _titulaire_longueur)
AGDREF = Guard("R14", "n° AGDREF ou fin du titre de séjour manquant (hors EEE)", _agdref)
FRANCE_TRAVAIL = Guard("R13", "inscription à France Travail requise", _france_travail)


def valider_allocation_entree(session, cerfa_ids, ctx):
    """R40/R42: validating an initial cerfa validates its entry allocation (never submitted by the CIP)."""
    from .allocations import ALLOCATION
    from .engine import Report, apply_chunk
    ids = session.execute(sa.select(Allocation.id).where(
        Allocation.cerfa_id.in_(cerfa_ids), Allocation.nature == AllocationNature.ENTREE,
        Allocation.statut == AllocationStatut.ENREGISTREE)).scalars().all()
    if ids:
        t = ALLOCATION.transition("valider_entree")
        apply_chunk(session, ALLOCATION, t, list(ids), ctx, Report(ALLOCATION.name, t.name, t.label, False))


CERFA = Workflow("cerfa", Cerfa, [
    #  name          label                          from                           to             roles
    T("recevoir", "Réception signée", {S.SAISI}, S.SIGNE_RECU, {R.CONSEILLER, R.SIEGE},
      values=lambda ctx: {"date_reception": ctx.now.date()}),
    T("valider", "Valider (siège)", {S.SIGNE_RECU}, S.VALIDE_SIEGE, {R.SIEGE},
      guards=[RIB_PRESENT, RIB_VALIDE, TITULAIRE, AGDREF, FRANCE_TRAVAIL],
      values=lambda ctx: {"valide_siege_at": ctx.now}, effects=[valider_allocation_entree], style="success"),
    T("refuser", "Refuser", {S.SIGNE_RECU, S.VALIDE_SIEGE}, S.REFUSE, {R.SIEGE}, params=[MOTIF],
      values=lambda ctx: {"motif_refus": ctx.params["motif_refus"]}, style="danger"),
    T("transmettre", "Transmettre au payeur", {S.VALIDE_SIEGE}, S.TRANSMIS, {R.SIEGE}),
    T("accepter_payeur", "Acceptation du payeur", {S.TRANSMIS}, S.ACCEPTE, {R.COMPTABLE},
      values=lambda ctx: {"decision_asp_at": ctx.now}, style="success"),
    T("refuser_payeur", "Refus du payeur", {S.TRANSMIS}, S.REFUSE, {R.COMPTABLE}, params=[MOTIF],
      values=lambda ctx: {"motif_refus": ctx.params["motif_refus"], "decision_asp_at": ctx.now}, style="danger"),
    T("corriger", "Corriger et renvoyer", {S.REFUSE}, S.SIGNE_RECU, {R.CONSEILLER, R.SIEGE},
      values=lambda ctx: {"date_reception": ctx.now.date()}),
    # Issue 12 §3 (R39): the RIB of a cerfa the siège validated changed (another account, or its IBAN, BIC
    # or holder): the siège validates it again before any allowance goes to that account. Run by the system
    # right after the change (renvoyer_en_validation), never offered as a button.
    T("rib_modifie", "RIB modifié : nouvelle validation du siège", RIB_A_REVALIDER, S.SIGNE_RECU,
      {R.ADMIN, R.CONSEILLER}, params=[Param("motif", "Motif")], system=True,
      values=lambda ctx: {"valide_siege_at": None}),
], scope=policy.row_scope)


def renvoyer_en_validation(session, *, actor, motif: str, cerfa_ids=(), compte_bancaire_ids=(), now=None):
    """Send back to the siège's validation the cerfas validated or later (valide_siege, transmis, accepte)
    among `cerfa_ids` and those paying into `compte_bancaire_ids`: transition « rib_modifie », audited with
    `motif` and `actor` (issue 12 §3). Set-based; does not commit."""
    from .engine import run
    from .selection import Selection
    conditions = []
    if cerfa_ids:
        conditions.append(Cerfa.id.in_(list(cerfa_ids)))
    if compte_bancaire_ids:
        conditions.append(Cerfa.compte_bancaire_id.in_(list(compte_bancaire_ids)))
    if not conditions:
        return None
    query = sa.select(Cerfa.id).where(sa.or_(*conditions), Cerfa.statut.in_(list(RIB_A_REVALIDER)))
    return run(session, CERFA, "rib_modifie", Selection.of_query(query), actor, params={"motif": motif},
               now=now, system=True)
