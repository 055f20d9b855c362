"""NACRE (R51, issue 16 part 1): a convention with an operator, its advance, its monthly payments on the operator's
activity, its expertise, its end.

    convention  en_cours ──signer_premier_contrat (date)──▶ en_cours   the 25 % advance becomes payable (once)
                en_cours ──payer_mois (mois)──────────────▶ en_cours   the month's validated statement is paid
                en_cours ──terminer / resilier (motif)────▶ terminee / resiliee   the excess advance recovered
    état d'activité  en_saisie ─transmettre─▶ transmis ─valider─▶ valide ─verser (payer_mois)─▶ verse
                                              transmis ─rejeter (motif)─▶ rejete ─corriger─▶ en_saisie
    expertise   deposee ─valider─▶ validee (paid on its contract and invoice) | ─refuser (motif)─▶ refusee

Money (rules/nacre.py): the advance absorbs the first activity; each monthly payment is the activity paid so far
(this month's included) less the advance and the monthly payments already made; the advance, the monthly payments
and the expertise together never exceed the convention's subsidy; what the activity never absorbed of the advance
becomes an ordre de reversement when the convention ends (recovered through workflows/reversements.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from .. import policy
from ..models import ConventionNacre, EtatActiviteNacre, ExpertiseNacre, Structure
from ..models.enums import (ConventionStatut as C, EtatActiviteStatut as EA, ExpertiseStatut as EX, Role as R,
                            SourceEcheance as SE, TypeBeneficiairePaiement as TB)
from ..rules import nacre as regles
from . import audit
from .engine import Guard, Param, T, Workflow, id_in, run
from .errors import TransitionRefused
from .paie_programmes import (MOIS, executemany_update, fin_du_mois, mettre_en_paiement, mois_du_contexte,
                              parse_date)
from .selection import Selection

ZERO = Decimal("0.00")
DATE_PREMIER_CONTRAT = Param("date_premier_contrat", "Date de signature du premier contrat d'accompagnement",
                             kind="date")
MOTIF_FIN = Param("motif_fin", "Motif de la résiliation", kind="textarea", max_length=300)


def _ok(flag: bool):
    return sa.true() if flag else sa.false()


# ---- what a convention has paid and what its activity is worth (one grouped SELECT each) ---------------------
def _versements(session, convention_ids) -> dict[int, regles.Versements]:
    ids = list(convention_ids)
    avances = dict(session.execute(sa.select(ConventionNacre.id, ConventionNacre.avance_versee)
                                   .where(id_in(session, ConventionNacre.id, ids))).all())
    mensualites = dict(session.execute(
        sa.select(EtatActiviteNacre.convention_id, sa.func.sum(EtatActiviteNacre.montant_verse))
        .where(id_in(session, EtatActiviteNacre.convention_id, ids), EtatActiviteNacre.statut == EA.VERSE)
        .group_by(EtatActiviteNacre.convention_id)).all())
    expertises = dict(session.execute(
        sa.select(ExpertiseNacre.convention_id, sa.func.sum(ExpertiseNacre.montant_paye))
        .where(id_in(session, ExpertiseNacre.convention_id, ids), ExpertiseNacre.statut == EX.VALIDEE)
        .group_by(ExpertiseNacre.convention_id)).all())
    return {i: regles.Versements(avance=avances.get(i) or ZERO, mensualites=mensualites.get(i) or ZERO,
                                 expertises=expertises.get(i) or ZERO) for i in ids}


def _activite_versee(session, convention_ids) -> dict[int, Decimal]:
    """The activity of the statements already paid (statut verse), per convention."""
    return {i: Decimal(v or 0) for i, v in session.execute(
        sa.select(EtatActiviteNacre.convention_id, sa.func.sum(EtatActiviteNacre.montant_activite))
        .where(id_in(session, EtatActiviteNacre.convention_id, list(convention_ids)),
               EtatActiviteNacre.statut == EA.VERSE)
        .group_by(EtatActiviteNacre.convention_id)).all()}


def _conventions(session, ids):
    return session.execute(
        sa.select(ConventionNacre.id, ConventionNacre.numero, ConventionNacre.subvention_annuelle,
                  ConventionNacre.date_debut, ConventionNacre.date_fin, ConventionNacre.date_premier_contrat,
                  ConventionNacre.avance_versee, ConventionNacre.operateur_id, ConventionNacre.iban,
                  ConventionNacre.bic, Structure.nom.label("operateur"), Structure.email)
        .join(Structure, Structure.id == ConventionNacre.operateur_id)
        .where(id_in(session, ConventionNacre.id, list(ids)))).all()


def _ligne(row, source_id, periode, montant, libelle):
    from .echeances import LigneEcheance
    return LigneEcheance(source_id=source_id, periode=periode, payee_type=TB.PARTENAIRE, payee_id=row.operateur_id,
                         montant=montant, iban=row.iban, bic=row.bic, titulaire=row.operateur[:70],
                         libelle=libelle[:140])


# ---- the convention's transitions ------------------------------------------------------------------------------
def _date_param(ctx):
    return parse_date((ctx.params or {}).get("date_premier_contrat"))


def _date_dans_convention(ctx):
    # a dry run previews before the date is typed: the real run checks it
    if (ctx.params or {}).get("date_premier_contrat") in (None, ""):
        return sa.true()
    d = _date_param(ctx)
    if d is None:
        return sa.false()
    return sa.and_(ConventionNacre.date_debut <= d, ConventionNacre.date_fin >= d)


def _mois_valide(ctx):
    m = mois_du_contexte(ctx)
    if m is None:
        return sa.false()
    return sa.exists().where(EtatActiviteNacre.convention_id == ConventionNacre.id, EtatActiviteNacre.mois == m,
                             EtatActiviteNacre.statut == EA.VALIDE)


def _sans_etat_en_attente(ctx):
    return sa.and_(
        ~sa.exists().where(EtatActiviteNacre.convention_id == ConventionNacre.id,
                           EtatActiviteNacre.statut.in_([EA.TRANSMIS, EA.VALIDE])),
        ~sa.exists().where(ExpertiseNacre.convention_id == ConventionNacre.id, ExpertiseNacre.statut == EX.DEPOSEE))


SANS_AVANCE = Guard("R51", "avance déjà versée : le premier contrat est déjà signé",
                    lambda ctx: ConventionNacre.date_premier_contrat.is_(None))
DATE_DANS_CONVENTION = Guard("R51", "date du premier contrat hors de la période de la convention",
                             _date_dans_convention)
IBAN_CONVENTION = Guard("R76", "compte bancaire (IBAN) de l'opérateur non renseigné sur la convention",
                        lambda ctx: sa.func.coalesce(ConventionNacre.iban, "") != "")
AVANCE_VERSEE = Guard("R51", "premier contrat d'accompagnement non signé : ni avance ni paiement mensuel",
                      lambda ctx: ConventionNacre.date_premier_contrat.is_not(None))
ETAT_VALIDE = Guard("R51", "aucun état d'activité validé à payer pour ce mois (non transmis, non validé ou déjà "
                    "payé)", _mois_valide)
MOIS_DANS_CONVENTION = Guard("R51", "mois hors de la période de la convention",
                             lambda ctx: _ok(False) if mois_du_contexte(ctx) is None else sa.and_(
                                 ConventionNacre.date_debut <= fin_du_mois(mois_du_contexte(ctx)),
                                 ConventionNacre.date_fin >= mois_du_contexte(ctx)))
FIN_ATTEINTE = Guard("R51", "la convention n'est pas arrivée à son terme (résilier pour l'arrêter avant)",
                     lambda ctx: ConventionNacre.date_fin < ctx.now.date())
SANS_ETAT_EN_ATTENTE = Guard("R51", "un état d'activité ou une expertise attend encore d'être instruit ou payé",
                             _sans_etat_en_attente)


def _effect_avance(session, ids, ctx) -> None:
    """R51: the first accompaniment contract is signed: the advance (25 % of the annual subsidy, the rate of that
    day) is written on the convention and becomes its payable, sent to payment."""
    from .echeances import creer_echeances
    rows = _conventions(session, ids)
    maj, lignes = [], []
    for r in rows:
        montant = regles.avance(r.subvention_annuelle, r.date_premier_contrat)
        maj.append({"id": r.id, "avance_versee": montant})
        if montant > 0:
            lignes.append(_ligne(r, r.id, r.date_premier_contrat.replace(day=1), montant,
                                 f"NACRE AVANCE {r.numero}"))
    executemany_update(session, ConventionNacre.__table__, maj, avance_versee=None)
    created = creer_echeances(session, SE.NACRE_AVANCE, lignes, ctx)
    mettre_en_paiement(session, created, ctx)


def montants_du_mois(session, convention_ids, mois) -> dict[int, tuple[int, Decimal]]:
    """convention id -> (its statement of `mois`, the month's payment) for the conventions with a validated
    statement that month (R51). Pure rule per convention, three grouped SELECTs per call: what the dry run shows,
    what the run pays."""
    etats = session.execute(
        sa.select(EtatActiviteNacre.convention_id, EtatActiviteNacre.id, EtatActiviteNacre.montant_activite)
        .where(id_in(session, EtatActiviteNacre.convention_id, list(convention_ids)), EtatActiviteNacre.mois == mois,
               EtatActiviteNacre.statut == EA.VALIDE)).all()
    if not etats:
        return {}
    ids = [e.convention_id for e in etats]
    conv = {r.id: r for r in _conventions(session, ids)}
    verse, deja = _versements(session, ids), _activite_versee(session, ids)
    out = {}
    for e in etats:
        c = conv[e.convention_id]
        plafond = regles.plafond_subvention(c.subvention_annuelle, c.date_debut, c.date_fin)
        out[e.convention_id] = (e.id, regles.mensualite(activite_cumulee=deja.get(c.id, ZERO) + e.montant_activite,
                                                        verse=verse[c.id], plafond=plafond))
    return out


def _effect_mensualites(session, ids, ctx) -> None:
    """R51: each convention's validated statement of the month is paid (its payment written on it, 0 when the
    advance absorbs it), marked « versé », and the positive payments become payables sent to payment."""
    from .echeances import creer_echeances
    mois = mois_du_contexte(ctx)
    montants = montants_du_mois(session, ids, mois)
    if not montants:
        return
    conv = {r.id: r for r in _conventions(session, montants)}
    executemany_update(session, EtatActiviteNacre.__table__,
                       [{"id": etat_id, "montant_verse": m} for etat_id, m in montants.values()], montant_verse=None)
    run(session, ETAT, "verser", Selection.of_ids([etat_id for etat_id, _ in montants.values()]), None, now=ctx.now,
        bulk_run_id=ctx.bulk_run_id, system=True)
    lignes = [_ligne(conv[cid], cid, mois, m, f"NACRE {conv[cid].numero} ACTIVITE {mois:%m/%Y}")
              for cid, (_, m) in montants.items() if m > 0]
    created = creer_echeances(session, SE.NACRE_MENSUALITE, lignes, ctx)
    mettre_en_paiement(session, created, ctx)


def excedents(session, convention_ids) -> dict[int, Decimal]:
    """R51: per convention, what of its advance its paid activity never absorbed."""
    rows = _conventions(session, convention_ids)
    activite = _activite_versee(session, [r.id for r in rows])
    return {r.id: regles.excedent_avance(avance_versee=r.avance_versee, activite_totale=activite.get(r.id, ZERO))
            for r in rows}


def _effect_excedent(session, ids, ctx) -> None:
    """R51: the convention ends: the excess of the advance over the activity becomes an ordre de reversement owed
    by the operator, recovered through the recovery chain (notification, repayments, offsetting, remise)."""
    from .echeances import dispositif_programme
    from .reversements import emettre_reversements
    dus = {i: m for i, m in excedents(session, ids).items() if m > 0}
    if not dus:
        return
    dispositif = dispositif_programme(session, "NACRE").id
    conv = {r.id: r for r in _conventions(session, dus)}
    emettre_reversements(session, [dict(
        origine="regularisation", debiteur_type="partenaire", debiteur_id=conv[i].operateur_id,
        dispositif_id=dispositif, antenne_id=conv[i].operateur_id, montant=m,
        motif=f"Convention NACRE {conv[i].numero} : avance non couverte par l'activité (R51)",
        debiteur_nom=conv[i].operateur, debiteur_email=conv[i].email) for i, m in dus.items()], ctx)


CONVENTION = Workflow("convention_nacre", ConventionNacre, [
    T("signer_premier_contrat", "Premier contrat signé : verser l'avance", {C.EN_COURS}, C.EN_COURS,
      {R.SIEGE, R.ADMIN}, params=[DATE_PREMIER_CONTRAT], guards=[SANS_AVANCE, DATE_DANS_CONVENTION, IBAN_CONVENTION],
      values=lambda ctx: {"date_premier_contrat": _date_param(ctx)}, effects=[_effect_avance], style="success"),
    # the monthly run, from its own page (the month chosen before the dry run): admin_views/paie_programmes.py
    T("payer_mois", "Paie mensuelle sur l'état d'activité", {C.EN_COURS}, C.EN_COURS, {R.SIEGE, R.COMPTABLE},
      params=[MOIS], guards=[AVANCE_VERSEE, MOIS_DANS_CONVENTION, IBAN_CONVENTION, ETAT_VALIDE],
      effects=[_effect_mensualites], system=True),
    T("terminer", "Terminer (convention échue)", {C.EN_COURS}, C.TERMINEE, {R.SIEGE, R.ADMIN},
      guards=[FIN_ATTEINTE, SANS_ETAT_EN_ATTENTE], effects=[_effect_excedent], style="secondary"),
    T("resilier", "Résilier", {C.EN_COURS}, C.RESILIEE, {R.SIEGE, R.ADMIN}, params=[MOTIF_FIN],
      guards=[SANS_ETAT_EN_ATTENTE], values=lambda ctx: {"motif_fin": ctx.params["motif_fin"]},
      effects=[_effect_excedent], style="danger"),
], entity="convention_nacre", scope=policy.row_scope)


# ---- the operator's monthly activity statement -------------------------------------------------------------------
def _calculer_activite(session, ids, ctx) -> None:
    """R51: the statement's activity at its convention's prices per phase, written before it is sent."""
    rows = session.execute(
        sa.select(EtatActiviteNacre.id, EtatActiviteNacre.nb_phase_1, EtatActiviteNacre.nb_phase_2,
                  EtatActiviteNacre.nb_phase_3, ConventionNacre.tarif_phase_1, ConventionNacre.tarif_phase_2,
                  ConventionNacre.tarif_phase_3)
        .join(ConventionNacre, ConventionNacre.id == EtatActiviteNacre.convention_id)
        .where(id_in(session, EtatActiviteNacre.id, list(ids)))).all()
    executemany_update(session, EtatActiviteNacre.__table__, [
        {"id": r.id, "montant_activite": regles.activite_du_mois(
            {1: r.nb_phase_1, 2: r.nb_phase_2, 3: r.nb_phase_3},
            {1: r.tarif_phase_1, 2: r.tarif_phase_2, 3: r.tarif_phase_3})} for r in rows], montant_activite=None)


def _etat_dans_convention(ctx):
    # the month's start against the convention's start is checked when the statement is typed (verifier_etat)
    return sa.exists().where(ConventionNacre.id == EtatActiviteNacre.convention_id,
                             ConventionNacre.statut == C.EN_COURS, ConventionNacre.date_fin >= EtatActiviteNacre.mois)


def _etat_mois_commence(ctx):
    return EtatActiviteNacre.mois <= ctx.now.date()


CONVENTION_EN_COURS = Guard("R51", "convention non en cours, ou mois après sa fin", _etat_dans_convention)
MOIS_COMMENCE = Guard("R51", "l'activité d'un mois se déclare une fois ce mois commencé", _etat_mois_commence)
def verifier_etat(session, *, actor, convention_id: int, mois) -> None:
    """A statement is typed for one of the operator's own conventions, for a month of it (R51)."""
    query = sa.select(ConventionNacre).where(ConventionNacre.id == convention_id)
    if actor is not None and (clause := policy.row_scope(ConventionNacre, actor)) is not None:
        query = query.where(clause)
    conv = session.execute(query).scalar_one_or_none()
    if conv is None:
        raise TransitionRefused("Convention introuvable.")
    if mois is None or not (conv.date_debut.replace(day=1) <= mois.replace(day=1) <= conv.date_fin):
        raise TransitionRefused(f"Le mois doit être dans la période de la convention ({conv.date_debut:%m/%Y} à "
                                f"{conv.date_fin:%m/%Y}) (R51).")


MOTIF_REJET = Param("motif_rejet", "Motif du rejet", kind="textarea", max_length=300)

ETAT = Workflow("etat_activite_nacre", EtatActiviteNacre, [
    T("transmettre", "Transmettre à l'ASP", {EA.EN_SAISIE}, EA.TRANSMIS, {R.PARTENAIRE},
      guards=[CONVENTION_EN_COURS, MOIS_COMMENCE], prepare=[_calculer_activite],
      values=lambda ctx: {"transmis_at": ctx.now, "motif_rejet": None}),
    T("valider", "Valider", {EA.TRANSMIS}, EA.VALIDE, {R.SIEGE, R.ADMIN}, style="success"),
    T("rejeter", "Rejeter", {EA.TRANSMIS}, EA.REJETE, {R.SIEGE, R.ADMIN}, params=[MOTIF_REJET],
      values=lambda ctx: {"motif_rejet": ctx.params["motif_rejet"]}, style="danger"),
    T("corriger", "Corriger", {EA.REJETE}, EA.EN_SAISIE, {R.PARTENAIRE}, style="secondary"),
    T("verser", "Versé (paie mensuelle)", {EA.VALIDE}, EA.VERSE, {R.SIEGE, R.COMPTABLE}, system=True),
], entity="etat_activite_nacre", amount_column="montant_activite", scope=policy.row_scope)


# ---- expertise: on the contract and the supplier's invoice, both attached ----------------------------------------
def deposer_expertise(session, *, actor, convention_id: int, prestataire: str, objet: str, montant_contrat: Decimal,
                      montant_facture: Decimal, date_facture, contrat: tuple[bytes, str] | None,
                      facture: tuple[bytes, str] | None, now: datetime) -> ExpertiseNacre:
    """R51: the operator files an expertise with its contract and the supplier's invoice (PDF, PNG or JPEG, checked
    by workflows.pieces); another operator's convention is a missing one."""
    from . import pieces
    query = sa.select(ConventionNacre).where(ConventionNacre.id == convention_id)
    if actor is not None and (clause := policy.row_scope(ConventionNacre, actor)) is not None:
        query = query.where(clause)
    conv = session.execute(query).scalar_one_or_none()
    if conv is None:
        raise TransitionRefused("Convention introuvable.")
    if conv.statut != C.EN_COURS:
        raise TransitionRefused("La convention n'est plus en cours : aucune expertise ne s'y rattache (R51).")
    prestataire, objet = (prestataire or "").strip(), (objet or "").strip()
    if not prestataire or not objet:
        raise TransitionRefused("Indiquez le prestataire et l'objet de l'expertise.")
    for libelle, m in (("du contrat", montant_contrat), ("de la facture", montant_facture)):
        if not isinstance(m, Decimal) or not m.is_finite() or m <= 0 or m != m.quantize(Decimal("0.01")):
            raise TransitionRefused(f"Montant {libelle} : un nombre positif à deux décimales.")
    if contrat is None or facture is None:
        raise TransitionRefused("Joignez le contrat d'expertise et la facture du prestataire (R51).")
    piece_contrat = pieces.enregistrer_piece(session, actor=actor, contenu=contrat[0], nom_fichier=contrat[1],
                                             etablissement_id=None)
    piece_facture = pieces.enregistrer_piece(session, actor=actor, contenu=facture[0], nom_fichier=facture[1],
                                             etablissement_id=None)
    e = ExpertiseNacre(convention_id=conv.id, prestataire=prestataire[:120], objet=objet[:200],
                       montant_contrat=montant_contrat, montant_facture=montant_facture, date_facture=date_facture,
                       piece_contrat_id=piece_contrat.id, piece_facture_id=piece_facture.id, statut=EX.DEPOSEE)
    session.add(e)
    session.flush()
    audit.record(session, entity="expertise_nacre", entity_id=e.id, action="deposer",
                 actor_id=getattr(actor, "id", None), to_status=EX.DEPOSEE.value,
                 params={"convention": conv.id, "contrat": str(montant_contrat), "facture": str(montant_facture)})
    return e


def montants_expertises(session, ids) -> dict[int, Decimal]:
    """R51: each expertise's payment: its invoice within its contract and what is left of the subsidy (the
    expertise of one convention taken in order, each one reducing what is left for the next)."""
    rows = session.execute(sa.select(ExpertiseNacre.id, ExpertiseNacre.convention_id, ExpertiseNacre.montant_contrat,
                                     ExpertiseNacre.montant_facture)
                           .where(id_in(session, ExpertiseNacre.id, list(ids))).order_by(ExpertiseNacre.id)).all()
    convs = {r.id: r for r in _conventions(session, {r.convention_id for r in rows})}
    verse = _versements(session, list(convs))
    out = {}
    for r in rows:
        c = convs[r.convention_id]
        v = verse[c.id]
        m = regles.paiement_expertise(montant_contrat=r.montant_contrat, montant_facture=r.montant_facture, verse=v,
                                      plafond=regles.plafond_subvention(c.subvention_annuelle, c.date_debut,
                                                                        c.date_fin))
        out[r.id] = m
        verse[c.id] = regles.Versements(v.avance, v.mensualites, v.expertises + m)
    return out


def _subvention_epuisee(session, ids, ctx) -> set[int]:
    return {i for i, m in montants_expertises(session, ids).items() if m <= 0}


def _ecrire_montant_expertise(session, ids, ctx) -> None:
    executemany_update(session, ExpertiseNacre.__table__,
                       [{"id": i, "montant_paye": m} for i, m in montants_expertises(session, ids).items()],
                       montant_paye=None)


def _effect_payer_expertise(session, ids, ctx) -> None:
    from .echeances import creer_echeances
    rows = session.execute(sa.select(ExpertiseNacre.id, ExpertiseNacre.convention_id, ExpertiseNacre.montant_paye,
                                     ExpertiseNacre.date_facture, ExpertiseNacre.prestataire)
                           .where(id_in(session, ExpertiseNacre.id, list(ids)))).all()
    convs = {r.id: r for r in _conventions(session, {r.convention_id for r in rows})}
    lignes = [_ligne(convs[r.convention_id], r.id, r.date_facture.replace(day=1), r.montant_paye,
                     f"NACRE EXPERTISE {convs[r.convention_id].numero} {r.prestataire}")
              for r in rows if r.montant_paye and r.montant_paye > 0]
    mettre_en_paiement(session, creer_echeances(session, SE.NACRE_EXPERTISE, lignes, ctx), ctx)


def _pieces_jointes(ctx):
    return sa.and_(ExpertiseNacre.piece_contrat_id.is_not(None), ExpertiseNacre.piece_facture_id.is_not(None))


def _convention_payable(ctx):
    return sa.exists().where(ConventionNacre.id == ExpertiseNacre.convention_id, ConventionNacre.statut == C.EN_COURS,
                             ConventionNacre.date_premier_contrat.is_not(None),
                             sa.func.coalesce(ConventionNacre.iban, "") != "")


PIECES = Guard("R51", "contrat d'expertise ou facture du prestataire non joint", _pieces_jointes)
CONVENTION_PAYABLE = Guard("R51", "convention non en cours, sans premier contrat signé ou sans IBAN",
                           _convention_payable)
SUBVENTION_EPUISEE = Guard("R51", "subvention de la convention épuisée : l'expertise ne peut plus être payée",
                           python=_subvention_epuisee)

EXPERTISE = Workflow("expertise_nacre", ExpertiseNacre, [
    T("valider", "Valider et payer", {EX.DEPOSEE}, EX.VALIDEE, {R.SIEGE, R.ADMIN},
      guards=[PIECES, CONVENTION_PAYABLE, SUBVENTION_EPUISEE], prepare=[_ecrire_montant_expertise],
      effects=[_effect_payer_expertise], style="success"),
    T("refuser", "Refuser", {EX.DEPOSEE}, EX.REFUSEE, {R.SIEGE, R.ADMIN},
      params=[Param("motif_refus", "Motif du refus", kind="textarea", max_length=300)],
      values=lambda ctx: {"motif_refus": ctx.params["motif_refus"]}, style="danger"),
], entity="expertise_nacre", amount_column="montant_facture", scope=policy.row_scope)


# ---- the payer's controls (workflows.echeances.controles_sources) ----------------------------------------------
def _plafond_sql(conv):
    """R51, rules.nacre.plafond_subvention in SQL: the annual subsidy × the convention's years begun."""
    from .echeances import _mois_num
    mois = _mois_num(conv.date_fin) - _mois_num(conv.date_debut) + 1
    return conv.subvention_annuelle * ((mois + 11) // 12)


def _cumul_sql(conv, echeance):
    """R51: what the convention's NACRE payables up to this one (by id) pay — the advance, the monthly payments and
    the expertise, a cancelled payable paying nothing: two correlated sums on the payables' unique key."""
    from ..models import Echeance
    from ..models.enums import EcheanceStatut as ES
    e2 = sa.orm.aliased(Echeance)
    x = sa.orm.aliased(ExpertiseNacre)
    propres = (sa.select(sa.func.coalesce(sa.func.sum(e2.montant), 0))
               .where(e2.source_type.in_([SE.NACRE_AVANCE, SE.NACRE_MENSUALITE]), e2.source_id == conv.id,
                      e2.statut != ES.ANNULEE, e2.id <= echeance.id).scalar_subquery())
    expertises = (sa.select(sa.func.coalesce(sa.func.sum(e2.montant), 0))
                  .join(x, x.id == e2.source_id)
                  .where(e2.source_type == SE.NACRE_EXPERTISE, x.convention_id == conv.id,
                         e2.statut != ES.ANNULEE, e2.id <= echeance.id).scalar_subquery())
    return propres + expertises


def controles_sources_nacre(select, echeance):
    """R51: a NACRE payable is paid only while its convention covers its month (in progress, or ended after it: the
    last payments), to the convention's operator on the account named on it, for at most what its source allows
    (the advance written at the first contract, the monthly statement's payment, the validated expertise's), and
    the convention's payables together never above its subsidy. Outer joins on primary keys, one SELECT."""
    from .echeances import couvre_periode, iban_normalise
    conv = sa.orm.aliased(ConventionNacre)
    etat = sa.orm.aliased(EtatActiviteNacre)
    exp = sa.orm.aliased(ExpertiseNacre)
    is_av = echeance.source_type == SE.NACRE_AVANCE
    is_mois = echeance.source_type == SE.NACRE_MENSUALITE
    is_exp = echeance.source_type == SE.NACRE_EXPERTISE
    is_nacre = sa.or_(is_av, is_mois, is_exp)
    select = (select.outerjoin(exp, sa.and_(is_exp, exp.id == echeance.source_id))
              .outerjoin(conv, sa.and_(is_nacre, conv.id == sa.case((is_exp, exp.convention_id),
                                                                     else_=echeance.source_id)))
              .outerjoin(etat, sa.and_(is_mois, etat.convention_id == echeance.source_id,
                                       etat.mois == echeance.periode)))

    def non(cond):
        return sa.not_(sa.func.coalesce(cond, sa.false()))

    return select, [
        (sa.and_(is_nacre, non(couvre_periode(conv, "convention_nacre", echeance.periode))),
         "convention NACRE hors période : non en cours, ou terminée ou résiliée avant le mois payé (R51)"),
        (sa.and_(is_nacre, non(sa.and_(echeance.payee_type == TB.PARTENAIRE,
                                        echeance.payee_id == conv.operateur_id))),
         "bénéficiaire différent de l'opérateur de la convention NACRE (R51)"),
        (sa.and_(is_nacre, sa.or_(iban_normalise(conv.iban) == "", iban_normalise(conv.iban) != echeance.iban)),
         "IBAN différent du compte de l'opérateur sur la convention (R76)"),
        (sa.and_(is_av, conv.date_premier_contrat.is_(None)), "avance sans premier contrat d'accompagnement signé (R51)"),
        (sa.and_(is_av, echeance.montant > conv.avance_versee), "montant supérieur à l'avance de la convention (R51)"),
        (sa.and_(is_mois, sa.func.coalesce(etat.statut, "") != EA.VERSE.value),
         "état d'activité du mois non payé par la paie mensuelle (R51)"),
        (sa.and_(is_mois, echeance.montant > sa.func.coalesce(etat.montant_verse, 0)),
         "montant supérieur au paiement de l'état d'activité du mois (R51)"),
        (sa.and_(is_exp, sa.func.coalesce(exp.statut, "") != EX.VALIDEE.value), "expertise NACRE non validée (R51)"),
        (sa.and_(is_exp, echeance.montant > sa.func.coalesce(exp.montant_paye, 0)),
         "montant supérieur au paiement de l'expertise (R51)"),
        (sa.and_(is_nacre, _cumul_sql(conv, echeance) > _plafond_sql(conv)),
         "paiements NACRE cumulés supérieurs à la subvention de la convention (R51)"),
    ]
