"""ESAT and entreprises adaptées (R53, R54, issue 16): declarations, the DGF set by the ARS, payment.

Who does what (the ESAT extranet, each actor by its habilitation):
- the ESAT or EA (role `partenaire`, its own structure): files its monthly declarations, sees their status and
  its DGF instalments;
- the ARS agent (role `ars`, the ESATs and EAs of its région): sets the DGF of an ESAT for a year, sees the
  declarations and may refuse one;
- the ASP (`siege`): validates or refuses the declarations; (`siege`, `comptable`) liquidates them and the DGF
  instalments due, which creates their payables and puts them in the programme's open SEPA batch.

Life cycles: declaration deposee → validee → liquidee, deposee | validee → refusee (with a reason);
DGF instalment calcule → liquide (only from its month on). The monthly run is the grid's bulk action on a filter
(dry run, confirmation); a replay changes nothing (the engine moves only rows still in the source status, and a
payable is unique per source and period).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from .. import policy
from ..models import (AgrementEsat, DeclarationEA, DeclarationGarantie, DotationDGF, Structure, VersementDGF)
from ..models.enums import (DeclarationEsatStatut as D, MoisProgrammeStatut as MS, Role as R, SourceEcheance as SE,
                            TypeBeneficiairePaiement as TB, TypeStructure)
from ..rules import esat as regles
from ..rules.params import HorsBareme
from . import audit
from .engine import Guard, Param, T, Workflow, id_in
from .errors import TransitionRefused
from .service_civique import iban_sepa, payer

ROLES_ASP = {R.SIEGE, R.COMPTABLE}
MOTIF = Param("motif", "Motif", kind="textarea", max_length=300)


def _refuse(message: str):
    raise TransitionRefused(message)


def _structure_visible(session, structure_id: int, actor, types) -> Structure:
    """The ESAT/EA the actor may act for (its own as a partner, its région's as an ARS agent); another one
    answers as a missing one."""
    q = sa.select(Structure).where(Structure.id == structure_id, Structure.type.in_(list(types)))
    clause = policy.row_scope(Structure, actor) if actor is not None else None
    if clause is not None:
        q = q.where(clause)
    s = session.execute(q).scalar_one_or_none()
    if s is None:
        _refuse("Établissement introuvable ou supprimé.")
    return s


def enregistrer_agrement(session, *, actor, structure_id: int, numero: str, places: int, iban: str,
                         bic: str | None = None) -> AgrementEsat:
    s = session.get(Structure, structure_id)
    if s is None or s.type not in (TypeStructure.ESAT, TypeStructure.EA):
        _refuse("ESAT ou entreprise adaptée introuvable.")
    compte = iban_sepa(iban)
    if compte is None:
        _refuse("IBAN invalide ou hors zone SEPA (R76).")
    a = AgrementEsat(structure_id=structure_id, numero=numero.strip(), places=places, iban=compte, bic=bic or None)
    session.add(a)
    session.flush()
    audit.record(session, entity="agrement_esat", entity_id=a.id, action="creer", actor_id=getattr(actor, "id", None),
                 params={"structure_id": structure_id, "numero": a.numero})
    return a


def _deja(session, model, col, structure_id, periode):
    return session.execute(sa.select(model.id).where(col == structure_id, model.periode == periode)).first()


# ---- GRTH: the ESAT's monthly declaration (R53) ----------------------------------------------------------------
def deposer_garantie(session, *, actor, esat_id: int, periode: date, nb_travailleurs: int, etp: Decimal,
                     cotisations_obligatoires: Decimal, prevoyance: Decimal = Decimal("0"),
                     formation: Decimal = Decimal("0"), now: datetime) -> DeclarationGarantie:
    """R53: the month's pay guarantee declared by the ESAT; its reimbursement computed at once."""
    _structure_visible(session, esat_id, actor, {TypeStructure.ESAT})
    periode = periode.replace(day=1)
    if periode > now.date().replace(day=1):
        _refuse("Un mois à venir ne se déclare pas encore.")
    if _deja(session, DeclarationGarantie, DeclarationGarantie.esat_id, esat_id, periode):
        _refuse(f"Le mois {periode:%m/%Y} est déjà déclaré pour cet ESAT.")
    try:
        r = regles.remboursement_garantie(periode, Decimal(etp), Decimal(cotisations_obligatoires),
                                          Decimal(prevoyance or 0), Decimal(formation or 0))
    except (regles.DeclarationInvalide, HorsBareme, ArithmeticError) as exc:
        _refuse(str(exc))
    if nb_travailleurs is None or nb_travailleurs < 0 or Decimal(etp) > nb_travailleurs:
        _refuse("Les équivalents temps plein ne dépassent pas le nombre de travailleurs.")
    d = DeclarationGarantie(esat_id=esat_id, periode=periode, nb_travailleurs=nb_travailleurs, etp=Decimal(etp),
                            aide_au_poste=r.aide_au_poste, cotisations_obligatoires=r.cotisations_obligatoires,
                            prevoyance=r.prevoyance, formation=r.formation, montant=r.total, statut=D.DEPOSEE,
                            deposee_par_id=getattr(actor, "id", None), created_at=now, updated_at=now)
    session.add(d)
    session.flush()
    audit.record(session, entity="declaration_garantie", entity_id=d.id, action="deposer", at=now,
                 actor_id=getattr(actor, "id", None), to_status=D.DEPOSEE.value, params={"montant": r.total})
    return d


# ---- EA: the monthly declaration of aided posts (R54) ----------------------------------------------------------
def deposer_ea(session, *, actor, ea_id: int, periode: date, effectif_total: int, effectif_th: int,
               postes_etp: Decimal, now: datetime) -> DeclarationEA:
    """R54: the declared headcount and aided posts; the aid computed at once. The 80 % condition is checked
    when the ASP validates (the declaration is kept, and refused with the rule if below)."""
    _structure_visible(session, ea_id, actor, {TypeStructure.EA})
    periode = periode.replace(day=1)
    if periode > now.date().replace(day=1):
        _refuse("Un mois à venir ne se déclare pas encore.")
    if _deja(session, DeclarationEA, DeclarationEA.ea_id, ea_id, periode):
        _refuse(f"Le mois {periode:%m/%Y} est déjà déclaré pour cette entreprise adaptée.")
    try:
        regles.part_travailleurs_handicapes(effectif_total, effectif_th)
        if Decimal(postes_etp) > effectif_th:
            _refuse("Les postes aidés ne dépassent pas le nombre de travailleurs handicapés déclarés.")
        montant = regles.aide_au_poste_ea(periode, Decimal(postes_etp))
    except (regles.DeclarationInvalide, HorsBareme, ArithmeticError) as exc:
        _refuse(str(exc))
    d = DeclarationEA(ea_id=ea_id, periode=periode, effectif_total=effectif_total, effectif_th=effectif_th,
                      postes_etp=Decimal(postes_etp), montant=montant, statut=D.DEPOSEE,
                      deposee_par_id=getattr(actor, "id", None), created_at=now, updated_at=now)
    session.add(d)
    session.flush()
    audit.record(session, entity="declaration_ea", entity_id=d.id, action="deposer", at=now,
                 actor_id=getattr(actor, "id", None), to_status=D.DEPOSEE.value, params={"montant": montant})
    return d


def _sous_80_pourcent(session, ids, ctx) -> set[int]:
    """R54: the EAs whose declared headcount has less than 80 % handicapped workers (the dated threshold of the
    declared month)."""
    rows = session.execute(sa.select(DeclarationEA.id, DeclarationEA.periode, DeclarationEA.effectif_total,
                                     DeclarationEA.effectif_th).where(id_in(session, DeclarationEA.id, ids))).all()
    return {r.id for r in rows if not regles.condition_80_pourcent(r.periode, r.effectif_total, r.effectif_th)}


SEUIL_80 = Guard("R54", "moins de 80 % de travailleurs handicapés dans l'effectif déclaré : aide au poste refusée",
                 python=_sous_80_pourcent)


# ---- the DGF set by the ARS (R53) ------------------------------------------------------------------------------
def fixer_dgf(session, *, actor, esat_id: int, exercice: int, montant: Decimal, nb_versements: int = 12,
              now: datetime) -> DotationDGF:
    """R53: the ARS agent sets an ESAT's DGF for a year (an ESAT of its région); its instalments are written at
    once, monthly from January (their sum is the DGF exactly)."""
    if getattr(actor, "role", None) not in (R.ARS, R.ADMIN) and actor is not None:
        _refuse("Seule l'ARS fixe la dotation globale de fonctionnement (R53).")
    _structure_visible(session, esat_id, actor, {TypeStructure.ESAT})
    if not 2000 <= int(exercice) <= 2100:
        _refuse("Exercice invalide.")
    if session.execute(sa.select(DotationDGF.id).where(DotationDGF.esat_id == esat_id,
                                                       DotationDGF.exercice == exercice)).first():
        _refuse(f"La DGF {exercice} de cet ESAT est déjà fixée.")
    try:
        parts = regles.versements_dgf(Decimal(montant), int(nb_versements))
    except (regles.DeclarationInvalide, ArithmeticError) as exc:
        _refuse(str(exc))
    d = DotationDGF(esat_id=esat_id, exercice=exercice, montant=sum(parts), nb_versements=len(parts),
                    fixee_par_id=getattr(actor, "id", None), fixee_at=now, created_at=now, updated_at=now)
    session.add(d)
    session.flush()
    pas = 12 // len(parts)  # 12 monthly, 4 quarterly, …: spread over the year
    session.execute(sa.insert(VersementDGF), [
        {"dotation_id": d.id, "rang": k + 1, "periode": date(exercice, 1 + k * pas, 1), "montant": p,
         "statut": MS.CALCULE.value, "version": 1, "created_at": now, "updated_at": now}
        for k, p in enumerate(parts)])
    audit.record(session, entity="dotation_dgf", entity_id=d.id, action="fixer", at=now,
                 actor_id=getattr(actor, "id", None), params={"montant": d.montant, "versements": len(parts)})
    return d


# ---- liquidation: payables sent to payment ---------------------------------------------------------------------
def _sans_compte(model, col):
    def check(session, ids, ctx) -> set[int]:
        rows = session.execute(sa.select(model.id, AgrementEsat.iban).outerjoin(
            AgrementEsat, AgrementEsat.structure_id == col).where(id_in(session, model.id, ids))).all()
        return {i for i, iban in rows if iban_sepa(iban) is None}
    return check


def _lignes(session, ids, model, structure_col, montant_col, libelle):
    from .echeances import LigneEcheance
    rows = session.execute(sa.select(model.id, model.periode, montant_col, structure_col, Structure.nom,
                                     AgrementEsat.iban, AgrementEsat.bic, AgrementEsat.numero)
                           .join(Structure, Structure.id == structure_col)
                           .join(AgrementEsat, AgrementEsat.structure_id == structure_col)
                           .where(id_in(session, model.id, ids))).all()
    return [LigneEcheance(source_id=r[0], periode=r[1], payee_type=TB.ESAT, payee_id=r[3], montant=r[2], iban=r[5],
                          bic=r[6], titulaire=r[4], libelle=f"{libelle} {r[7]} {r[1]:%m/%Y}")
            for r in rows if r[2] > 0]


def _liquider_garanties(session, ids, ctx):
    payer(session, SE.ESAT_GARANTIE, _lignes(session, ids, DeclarationGarantie, DeclarationGarantie.esat_id,
                                             DeclarationGarantie.montant, "GRTH"), ctx)


def _liquider_ea(session, ids, ctx):
    payer(session, SE.EA_AIDE_POSTE, _lignes(session, ids, DeclarationEA, DeclarationEA.ea_id, DeclarationEA.montant,
                                             "AIDE AU POSTE EA"), ctx)


def _liquider_dgf(session, ids, ctx):
    from .echeances import LigneEcheance
    rows = session.execute(
        sa.select(VersementDGF.id, VersementDGF.periode, VersementDGF.montant, VersementDGF.rang, DotationDGF.esat_id,
                  DotationDGF.exercice, Structure.nom, AgrementEsat.iban, AgrementEsat.bic, AgrementEsat.numero)
        .join(DotationDGF, DotationDGF.id == VersementDGF.dotation_id)
        .join(Structure, Structure.id == DotationDGF.esat_id)
        .join(AgrementEsat, AgrementEsat.structure_id == DotationDGF.esat_id)
        .where(id_in(session, VersementDGF.id, ids))).all()
    payer(session, SE.ESAT_DGF, [
        LigneEcheance(source_id=r.id, periode=r.periode, payee_type=TB.ESAT, payee_id=r.esat_id, montant=r.montant,
                      iban=r.iban, bic=r.bic, titulaire=r.nom,
                      libelle=f"DGF {r.exercice} VERSEMENT {r.rang} {r.numero}") for r in rows], ctx)


DGF_SANS_COMPTE = Guard("R76", "ESAT sans IBAN valide",
                        python=lambda s, ids, ctx: _sans_compte_dgf(s, ids))


def _sans_compte_dgf(session, ids) -> set[int]:
    rows = session.execute(sa.select(VersementDGF.id, AgrementEsat.iban).join(DotationDGF)
                           .outerjoin(AgrementEsat, AgrementEsat.structure_id == DotationDGF.esat_id)
                           .where(id_in(session, VersementDGF.id, ids))).all()
    return {i for i, iban in rows if iban_sepa(iban) is None}


def _refus(ctx):
    return {"motif": ctx.params["motif"]}


GARANTIE = Workflow("declaration_garantie", DeclarationGarantie, [
    T("valider", "Valider", {D.DEPOSEE}, D.VALIDEE, {R.SIEGE}, style="success"),
    T("refuser", "Refuser", {D.DEPOSEE, D.VALIDEE}, D.REFUSEE, {R.SIEGE, R.ARS}, params=[MOTIF], values=_refus,
      style="danger"),
    T("liquider", "Liquider et envoyer en paiement", {D.VALIDEE}, D.LIQUIDEE, ROLES_ASP,
      guards=[Guard("R76", "ESAT sans IBAN valide", python=_sans_compte(DeclarationGarantie,
                                                                         DeclarationGarantie.esat_id))],
      effects=[_liquider_garanties]),
], entity="declaration_garantie", amount_column="montant", scope=policy.row_scope)

EA = Workflow("declaration_ea", DeclarationEA, [
    T("valider", "Valider", {D.DEPOSEE}, D.VALIDEE, {R.SIEGE}, guards=[SEUIL_80], style="success"),
    T("refuser", "Refuser", {D.DEPOSEE, D.VALIDEE}, D.REFUSEE, {R.SIEGE}, params=[MOTIF], values=_refus,
      style="danger"),
    T("liquider", "Liquider et envoyer en paiement", {D.VALIDEE}, D.LIQUIDEE, ROLES_ASP,
      guards=[SEUIL_80, Guard("R76", "entreprise adaptée sans IBAN valide",
                              python=_sans_compte(DeclarationEA, DeclarationEA.ea_id))],
      effects=[_liquider_ea]),
], entity="declaration_ea", amount_column="montant", scope=policy.row_scope)

VERSEMENT_DGF = Workflow("versement_dgf", VersementDGF, [
    T("liquider", "Liquider et envoyer en paiement", {MS.CALCULE}, MS.LIQUIDE, ROLES_ASP,
      guards=[Guard("R53", "versement d'un mois à venir",
                    lambda ctx: VersementDGF.periode <= ctx.now.date()), DGF_SANS_COMPTE],
      effects=[_liquider_dgf]),
], entity="versement_dgf", amount_column="montant", scope=policy.row_scope)


# ---- the payer's controls (workflows.echeances.controles_sources) ----------------------------------------------
def controles_sources_esat(select, echeance):
    """An ESAT/EA payable is paid only for a liquidated source and at most its amount (R53, R54)."""
    g = sa.orm.aliased(DeclarationGarantie)
    ea = sa.orm.aliased(DeclarationEA)
    v = sa.orm.aliased(VersementDGF)
    is_g = echeance.source_type == SE.ESAT_GARANTIE
    is_ea = echeance.source_type == SE.EA_AIDE_POSTE
    is_v = echeance.source_type == SE.ESAT_DGF
    select = (select.outerjoin(g, sa.and_(is_g, g.id == echeance.source_id))
              .outerjoin(ea, sa.and_(is_ea, ea.id == echeance.source_id))
              .outerjoin(v, sa.and_(is_v, v.id == echeance.source_id)))
    return select, [
        (sa.and_(is_g, sa.func.coalesce(g.statut, "") != D.LIQUIDEE.value), "déclaration de garantie non liquidée"),
        (sa.and_(is_g, echeance.montant > g.montant), "montant supérieur au remboursement déclaré (R53)"),
        (sa.and_(is_ea, sa.func.coalesce(ea.statut, "") != D.LIQUIDEE.value), "déclaration d'EA non liquidée"),
        (sa.and_(is_ea, echeance.montant > ea.montant), "montant supérieur à l'aide au poste (R54)"),
        (sa.and_(is_v, sa.func.coalesce(v.statut, "") != MS.LIQUIDE.value), "versement de DGF non liquidé"),
        (sa.and_(is_v, echeance.montant > v.montant), "montant supérieur au versement de DGF (R53)"),
    ]


# ---- corrections after payment: the ESAT or EA owes the difference (R53, R54; recovered by the chain, R47) -------
MOTIF_CORRECTION = Param("motif", "Motif de la correction", kind="textarea", max_length=300)
ETP = Param("etp", "Équivalents temps plein corrigés", max_length=12)
COTISATIONS = Param("cotisations_obligatoires", "Cotisations obligatoires corrigées", kind="money", max_length=20)
PREVOYANCE = Param("prevoyance", "Prévoyance corrigée", kind="money", required=False, max_length=20)
FORMATION = Param("formation", "Formation corrigée", kind="money", required=False, max_length=20)
EFFECTIF_TOTAL = Param("effectif_total", "Effectif total constaté", max_length=8)
EFFECTIF_TH = Param("effectif_th", "Travailleurs handicapés constatés", max_length=8)


def _decimal_param(ctx, name, default=None):
    raw = (ctx.params or {}).get(name)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return default
    try:
        value = Decimal(str(raw).strip().replace(" ", "").replace(",", "."))
    except ArithmeticError:
        return None
    return value if value.is_finite() and value >= 0 else None


def _entier_param(ctx, name):
    try:
        value = int(str((ctx.params or {}).get(name)).strip())
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _garanties_corrigees(session, ids, ctx) -> dict[int, Decimal]:
    """R53: declaration id -> its reimbursement recomputed from the corrected figures (the barème of its month)."""
    etp, cot = _decimal_param(ctx, "etp"), _decimal_param(ctx, "cotisations_obligatoires")
    prev, form = _decimal_param(ctx, "prevoyance", Decimal("0")), _decimal_param(ctx, "formation", Decimal("0"))
    if None in (etp, cot, prev, form):
        return {}
    rows = session.execute(sa.select(DeclarationGarantie.id, DeclarationGarantie.periode,
                                     DeclarationGarantie.nb_travailleurs)
                           .where(id_in(session, DeclarationGarantie.id, list(ids)))).all()
    out = {}
    for r in rows:
        if etp > r.nb_travailleurs:
            continue
        try:
            out[r.id] = regles.remboursement_garantie(r.periode, etp, cot, prev, form)
        except (regles.DeclarationInvalide, HorsBareme, ArithmeticError):
            continue
    return out


def _verse(session, source, ids) -> dict[int, Decimal]:
    """What the payables of these declarations pay (a cancelled one: nothing)."""
    from ..models import Echeance
    from ..models.enums import EcheanceStatut as ES
    return {i: Decimal(v) for i, v in session.execute(
        sa.select(Echeance.source_id, sa.func.sum(Echeance.montant))
        .where(Echeance.source_type == source, id_in(session, Echeance.source_id, list(ids)),
               Echeance.statut != ES.ANNULEE).group_by(Echeance.source_id)).all()}


def _garantie_sans_trop_percu(session, ids, ctx) -> set[int]:
    if not (ctx.params or {}).get("etp"):  # a dry run previews before the figures are typed
        return set()
    corrige, verse = _garanties_corrigees(session, ids, ctx), _verse(session, SE.ESAT_GARANTIE, ids)
    return {i for i in ids if i not in corrige or corrige[i].total >= verse.get(i, Decimal("0"))}


def _ea_condition_remplie(session, ids, ctx) -> set[int]:
    if not (ctx.params or {}).get("effectif_total"):
        return set()
    total, th = _entier_param(ctx, "effectif_total"), _entier_param(ctx, "effectif_th")
    if total is None or th is None or total <= 0 or th > total:
        return set(ids)
    rows = session.execute(sa.select(DeclarationEA.id, DeclarationEA.periode)
                           .where(id_in(session, DeclarationEA.id, list(ids)))).all()
    return {r.id for r in rows if regles.condition_80_pourcent(r.periode, total, th)}


def _ecrire_garantie_corrigee(session, ids, ctx) -> None:
    from .paie_programmes import executemany_update
    executemany_update(session, DeclarationGarantie.__table__, [
        {"id": i, "etp": _decimal_param(ctx, "etp"), "aide_au_poste": r.aide_au_poste,
         "cotisations_obligatoires": r.cotisations_obligatoires, "prevoyance": r.prevoyance, "formation": r.formation,
         "montant": r.total} for i, r in _garanties_corrigees(session, ids, ctx).items()],
        etp=None, aide_au_poste=None, cotisations_obligatoires=None, prevoyance=None, formation=None, montant=None)


def _ecrire_effectif_constate(session, ids, ctx) -> None:
    session.execute(sa.update(DeclarationEA).where(id_in(session, DeclarationEA.id, list(ids)))
                    .values(effectif_total=_entier_param(ctx, "effectif_total"),
                            effectif_th=_entier_param(ctx, "effectif_th"))
                    .execution_options(synchronize_session=False))


def _ordres(session, model, structure_col, source, programme, ids, dus: dict[int, Decimal], motif, ctx) -> None:
    """The ordres de reversement of these declarations (debtor: the ESAT or EA, on its programme), linked to them,
    notified at once by mail (the REVERSEMENT workflow's `notifier`): recovered by repayment or by offsetting
    against its next payable of the same programme (R47, with its agreement recorded)."""
    from ..models import Compte
    from .echeances import dispositif_programme
    from .engine import run
    from .paie_programmes import executemany_update
    from .reversements import REVERSEMENT, emettre_reversements
    from .selection import Selection
    dus = {i: m for i, m in dus.items() if m > 0}
    if not dus:
        return
    email = sa.func.coalesce(Structure.email, sa.select(sa.func.min(Compte.email))
                             .where(Compte.structure_id == Structure.id).scalar_subquery())
    rows = session.execute(sa.select(model.id, model.periode, Structure.id, Structure.nom, email)
                           .join(Structure, Structure.id == structure_col)
                           .where(id_in(session, model.id, sorted(dus))).order_by(model.id)).all()
    dispositif = dispositif_programme(session, programme).id
    ordres = emettre_reversements(session, [dict(
        origine="correction_declaration", debiteur_type="esat", debiteur_id=r[2], dispositif_id=dispositif,
        antenne_id=r[2], montant=dus[r[0]], debiteur_nom=r[3], debiteur_email=r[4],
        motif=f"{motif} {r[1]:%m/%Y} : {(ctx.params or {}).get('motif', '')}"[:500]) for r in rows], ctx)
    executemany_update(session, model.__table__, [{"id": r[0], "reversement_id": o} for r, o in zip(rows, ordres)],
                       reversement_id=None)
    run(session, REVERSEMENT, "notifier", Selection.of_ids(ordres), None, now=ctx.now, system=True,
        bulk_run_id=ctx.bulk_run_id)


def _effect_trop_percu_garantie(session, ids, ctx) -> None:
    """R53: the reimbursement paid above the corrected one is owed back by the ESAT."""
    verse = _verse(session, SE.ESAT_GARANTIE, ids)
    montants = dict(session.execute(sa.select(DeclarationGarantie.id, DeclarationGarantie.montant)
                                    .where(id_in(session, DeclarationGarantie.id, list(ids)))).all())
    _ordres(session, DeclarationGarantie, DeclarationGarantie.esat_id, SE.ESAT_GARANTIE, "ESAT", ids,
            {i: verse.get(i, Decimal("0")) - montants[i] for i in ids}, "Garantie de rémunération surdéclarée (R53)",
            ctx)


def _effect_indu_ea(session, ids, ctx) -> None:
    """R54: the ≥ 80 % condition failed for the month: the aid paid for it is owed back whole by the EA."""
    verse = _verse(session, SE.EA_AIDE_POSTE, ids)
    _ordres(session, DeclarationEA, DeclarationEA.ea_id, SE.EA_AIDE_POSTE, "EA", ids,
            {i: verse.get(i, Decimal("0")) for i in ids}, "Aide au poste : condition des 80 % non remplie (R54)", ctx)


SANS_ORDRE_G = Guard("R47", "un ordre de reversement a déjà été émis pour cette déclaration",
                     lambda ctx: DeclarationGarantie.reversement_id.is_(None))
SANS_ORDRE_EA = Guard("R47", "un ordre de reversement a déjà été émis pour cette déclaration",
                      lambda ctx: DeclarationEA.reversement_id.is_(None))
TROP_PERCU = Guard("R53", "la correction ne réduit pas le remboursement payé (chiffres invalides ou supérieurs) : "
                   "rien à reverser", python=_garantie_sans_trop_percu)
SOUS_80_CONSTATE = Guard("R54", "l'effectif constaté remplit la condition des 80 % (ou est invalide) : rien à "
                         "reverser", python=_ea_condition_remplie)

GARANTIE.transitions["corriger"] = T(
    "corriger", "Corriger après paiement (trop-perçu)", {D.LIQUIDEE}, D.LIQUIDEE, {R.SIEGE},
    params=[ETP, COTISATIONS, PREVOYANCE, FORMATION, MOTIF_CORRECTION], guards=[SANS_ORDRE_G, TROP_PERCU],
    prepare=[_ecrire_garantie_corrigee], effects=[_effect_trop_percu_garantie], style="warning")
EA.transitions["constater_sous_80"] = T(
    "constater_sous_80", "Condition des 80 % non remplie (indu)", {D.LIQUIDEE}, D.LIQUIDEE, {R.SIEGE},
    params=[EFFECTIF_TOTAL, EFFECTIF_TH, MOTIF_CORRECTION], guards=[SANS_ORDRE_EA, SOUS_80_CONSTATE],
    prepare=[_ecrire_effectif_constate], effects=[_effect_indu_ea], style="warning")
