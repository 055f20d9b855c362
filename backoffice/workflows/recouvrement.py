"""Recovery of reversements (R47, D5316-15 [W30]): the guards, values and effects of the REVERSEMENT
workflow's steps (workflows/reversements.py), the offsets against the next payment
(`imputer_compensations`), the reminders of missed instalments and the debtor's account.

Set-based throughout: a step on 1 or 10 000 orders is a handful of statements.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..i18n import format_montant
from ..models import (Beneficiaire, Compensation, Echeance, EcheancierLigne, LotPaiement, Paiement, Remboursement,
                      RemiseReversement, Reversement)
from ..models.base import Money
from ..models.enums import PaiementStatut as PS, ReversementStatut as S
from ..models.reversements import MODES_REMBOURSEMENT, ORIGINE_LABELS
from ..rules.params import ECHEANCIER_MAX_ECHEANCES, SEUIL_REMISE_DOUBLE_VALIDATION
from . import audit
from .engine import Guard, id_in

INVALIDE = object()
CENT = Decimal("0.01")


# ---- parameters --------------------------------------------------------------------------------
def parse_montant(raw):
    """A French amount ("1 234,56", "300") or a Decimal → Decimal; None if empty; INVALIDE otherwise."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if isinstance(raw, Decimal):
        value = raw
    else:
        text = str(raw).strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace("€", "")
        try:
            value = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return INVALIDE
    if not value.is_finite() or value <= 0 or value != value.quantize(CENT):
        return INVALIDE
    return value


def _montant(ctx):
    return parse_montant(ctx.params.get("montant"))


def _date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return INVALIDE
    return None


def _nombre(ctx):
    raw = ctx.params.get("nombre_echeances")
    if raw is None or raw == "":
        return None
    try:
        n = int(str(raw).strip())
    except ValueError:
        return INVALIDE
    return n if 1 <= n <= ECHEANCIER_MAX_ECHEANCES else INVALIDE


def reste_du_expr():
    return Reversement.montant - Reversement.montant_rembourse - Reversement.montant_remis - Reversement.montant_compense


def montant_expr(ctx):
    """The step's amount for each row: the one typed in, or (left empty, e.g. in bulk) all that is left due."""
    m = _montant(ctx)
    return reste_du_expr() if m is None or m is INVALIDE else sa.literal(m, Money)


def _ok(flag: bool):
    return sa.true() if flag else sa.false()


def seuil(ctx) -> Decimal:
    return SEUIL_REMISE_DOUBLE_VALIDATION.valeur(ctx.now.date())


# ---- guards (SQL predicates over Reversement, True = allowed) ------------------------------------
G_RESTE_DU = Guard("R47", "rien n'est plus dû sur cet ordre", lambda ctx: reste_du_expr() > 0)
G_MONTANT_VALIDE = Guard("montant", "montant invalide : un nombre positif à deux décimales au plus, par exemple 150,00",
                         lambda ctx: _ok(_montant(ctx) is not INVALIDE))
G_MONTANT_AU_PLUS_RESTE = Guard(
    "R47", "le montant dépasse le reste dû",
    lambda ctx: sa.true() if _montant(ctx) in (None, INVALIDE) else sa.literal(_montant(ctx), Money) <= reste_du_expr())
G_MODE = Guard("mode", "mode de remboursement inconnu (virement, cheque ou prelevement)",
               lambda ctx: _ok(ctx.params.get("mode") in (None, "", *MODES_REMBOURSEMENT)))


def _reference_nouvelle(ctx):
    ref = ctx.params.get("reference")
    if not ref:
        return sa.true()
    return ~sa.exists().where(Remboursement.reversement_id == Reversement.id, Remboursement.reference == ref)


G_REFERENCE_NOUVELLE = Guard("doublon", "remboursement déjà enregistré sous cette référence", _reference_nouvelle)
G_NOMBRE_ECHEANCES = Guard("echeances", f"nombre d'échéances invalide (de 1 à {ECHEANCIER_MAX_ECHEANCES})",
                           lambda ctx: _ok(_nombre(ctx) is not INVALIDE))
G_PREMIERE_ECHEANCE = Guard("echeances", "date de première échéance invalide ou passée",
                            lambda ctx: _ok(_date(ctx.params.get("premiere_echeance")) is None
                                            or (_date(ctx.params.get("premiere_echeance")) is not INVALIDE
                                                and _date(ctx.params.get("premiere_echeance")) >= ctx.now.date())))
G_SANS_ECHEANCIER = Guard("echeances", "un échéancier est déjà accordé",
                          lambda ctx: ~sa.exists().where(EcheancierLigne.reversement_id == Reversement.id))
G_SANS_ACCORD = Guard("compensation", "accord de compensation déjà enregistré",
                      lambda ctx: Reversement.accord_compensation_at.is_(None))
G_SOUS_LE_SEUIL = Guard("seuil", "remise au-delà du seuil : approbation d'un second responsable",
                        lambda ctx: Reversement.remise_proposee <= seuil(ctx))
G_QUATRE_YEUX = Guard(
    "4 yeux", "double validation : la remise doit être approuvée par un autre responsable que celui qui l'a décidée",
    lambda ctx: sa.false() if ctx.actor_id is None else
    sa.func.coalesce(Reversement.remise_proposee_par_id != ctx.actor_id, sa.true()))
G_REMISE_AU_PLUS_RESTE = Guard("R47", "remise supérieure au reste dû",
                               lambda ctx: Reversement.remise_proposee <= reste_du_expr())


# ---- instalments --------------------------------------------------------------------------------
def _ajouter_mois(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def derniere_echeance(ctx):
    first, n = _date(ctx.params.get("premiere_echeance")), _nombre(ctx)
    if first in (None, INVALIDE) or n in (None, INVALIDE):
        return Reversement.date_echeance
    return _ajouter_mois(first, n - 1)


def repartir(total: Decimal, n: int) -> list[Decimal]:
    """n monthly instalments of total, in cents, the rounding on the last one: sum = total, each > 0."""
    n = max(1, min(n, int(total / CENT)))
    part = (total / n).quantize(CENT, rounding="ROUND_DOWN")
    return [part] * (n - 1) + [total - part * (n - 1)]


def creer_echeanciers(session, ids, ctx) -> None:
    """Effect of `accorder_echeancier`: the plan's lines (one INSERT), a mail with the dates to each debtor."""
    first, n = _date(ctx.params["premiere_echeance"]), _nombre(ctx)
    rows = session.execute(sa.select(Reversement.id, reste_du_expr()).where(id_in(session, Reversement.id, ids))).all()
    lines = [{"reversement_id": rid, "rang": k + 1, "date_echeance": _ajouter_mois(first, k), "montant": amount,
              "created_at": ctx.now, "updated_at": ctx.now}
             for rid, reste in rows for k, amount in enumerate(repartir(reste, n))]
    if lines:
        session.execute(sa.insert(EcheancierLigne), lines)
    by_rev: dict[int, list[dict]] = {}
    for line in lines:
        by_rev.setdefault(line["reversement_id"], []).append(line)
    for r in _destinataires(session, ids):
        plan = [f"{line['rang']:>2}. le {line['date_echeance']:%d/%m/%Y} : {format_montant(line['montant'])}"
                for line in by_rev.get(r.id, [])]
        _queue(session, cle=f"reversement-echeancier-{r.id}", destinataire=r.email, template="reversement_echeancier",
               antenne_id=r.antenne_id, contexte={"debiteur": r.nom or "", "numero": r.numero,
                                                  "reste": format_montant(r.reste), "echeances": plan})


def recouvre_depuis_plan():
    return (Reversement.montant - reste_du_expr()) - sa.func.coalesce(Reversement.echeancier_recouvre_avant, 0)


def en_retard(ligne, today: date):
    """A line is missed when its date is past and what was recovered since the plan does not cover it and
    the lines before it (recoveries cover the instalments in due-date order). Correlated to Reversement."""
    earlier = aliased(EcheancierLigne)
    cumul = (sa.select(sa.func.sum(earlier.montant))
             .where(earlier.reversement_id == ligne.reversement_id, earlier.rang <= ligne.rang)
             .correlate(ligne).scalar_subquery())
    return sa.and_(ligne.reversement_id == Reversement.id, ligne.date_echeance < today, cumul > recouvre_depuis_plan())


def _a_relancer(ctx):
    line = aliased(EcheancierLigne)
    return sa.exists().where(en_retard(line, ctx.now.date()), line.relance_at.is_(None))


G_ECHEANCE_A_RELANCER = Guard("relance", "aucune échéance impayée à relancer", _a_relancer)


def relancer_echeances(session, ids, ctx) -> int:
    """Effect of `relancer`: each missed, not yet reminded instalment marked (one UPDATE … RETURNING) and one
    mail queued for it, keyed by the instalment: a replay or a second tick never sends it twice."""
    line = aliased(EcheancierLigne, name="l")
    missed = (sa.select(line.id).join(Reversement, Reversement.id == line.reversement_id)
              .where(id_in(session, Reversement.id, ids), en_retard(line, ctx.now.date()), line.relance_at.is_(None)))
    marked = session.execute(
        sa.update(EcheancierLigne).where(EcheancierLigne.id.in_(missed.scalar_subquery()),
                                         EcheancierLigne.relance_at.is_(None))
        .values(relance_at=ctx.now, updated_at=ctx.now)
        .returning(EcheancierLigne.id, EcheancierLigne.reversement_id, EcheancierLigne.rang,
                   EcheancierLigne.date_echeance, EcheancierLigne.montant)
        .execution_options(synchronize_session=False)).all()
    dest = {r.id: r for r in _destinataires(session, sorted({m.reversement_id for m in marked}))}
    for m in marked:
        r = dest.get(m.reversement_id)
        if r is not None:
            _queue(session, cle=f"echeance-relance-{m.id}", destinataire=r.email, template="reversement_relance",
                   antenne_id=r.antenne_id,
                   contexte={"debiteur": r.nom or "", "numero": r.numero, "rang": m.rang,
                             "date": m.date_echeance.strftime("%d/%m/%Y"), "montant": format_montant(m.montant),
                             "reste": format_montant(r.reste)})
    audit.record_many(session, [{"entity": "reversement", "entity_id": m.reversement_id, "action": "relance_echeance",
                                 "actor_id": ctx.actor_id, "at": ctx.now,
                                 "params": {"echeance": m.rang, "date": m.date_echeance, "montant": m.montant}}
                                for m in marked])
    return len(marked)


def ordres_a_relancer(session, today: date) -> list[int]:
    """The orders with a missed, not yet reminded instalment (for the scheduler's job): one SELECT."""
    line = aliased(EcheancierLigne)
    return session.execute(sa.select(Reversement.id).where(
        Reversement.statut == S.EN_RECOUVREMENT,
        sa.exists().where(en_retard(line, today), line.relance_at.is_(None))).order_by(Reversement.id)).scalars().all()


# ---- repayments, remises, settlement ---------------------------------------------------------------
def inserer_remboursements(session, ids, ctx) -> None:
    """Prepare of `rembourser` (rows locked, guards passed): one repayment row per order, INSERT … SELECT."""
    received = _date(ctx.params.get("date_reception")) or ctx.now.date()
    session.execute(sa.insert(Remboursement).from_select(
        ["reversement_id", "montant", "date_reception", "mode", "reference", "saisi_par_id", "created_at",
         "updated_at"],
        sa.select(Reversement.id, montant_expr(ctx), sa.literal(received, sa.Date),
                  sa.literal(ctx.params.get("mode") or "virement"), sa.literal(ctx.params.get("reference") or None,
                                                                             sa.String),
                  sa.literal(ctx.actor_id, sa.Integer), sa.literal(ctx.now, sa.DateTime),
                  sa.literal(ctx.now, sa.DateTime))
        .where(id_in(session, Reversement.id, ids))))


def _systeme(ctx):
    return SimpleNamespace(id=ctx.actor_id, role=ctx.role)


def apres_recouvrement(session, ids, ctx) -> None:
    """After a money step: the orders with nothing left due are settled (the system's `solder`)."""
    from .engine import run
    from .reversements import REVERSEMENT
    from .selection import Selection
    run(session, REVERSEMENT, "solder", Selection.of_ids(ids), _systeme(ctx), now=ctx.now, system=True,
        bulk_run_id=ctx.bulk_run_id)


def apres_remise_proposee(session, ids, ctx) -> None:
    """The decision row of each remise (who, how much, why); below the threshold it applies at once."""
    from .engine import run
    from .reversements import REVERSEMENT
    from .selection import Selection
    session.execute(sa.insert(RemiseReversement).from_select(
        ["reversement_id", "montant", "motif", "statut", "propose_par_id", "propose_at", "created_at", "updated_at"],
        sa.select(Reversement.id, Reversement.remise_proposee, Reversement.remise_motif, sa.literal("a_valider"),
                  Reversement.remise_proposee_par_id, sa.literal(ctx.now, sa.DateTime),
                  sa.literal(ctx.now, sa.DateTime), sa.literal(ctx.now, sa.DateTime))
        .where(id_in(session, Reversement.id, ids))))
    run(session, REVERSEMENT, "appliquer_remise", Selection.of_ids(ids), _systeme(ctx), now=ctx.now, system=True,
        bulk_run_id=ctx.bulk_run_id)


def valeurs_remise_accordee(ctx) -> dict:
    return {"montant_remis": Reversement.montant_remis + Reversement.remise_proposee, "remise_proposee": None,
            "remise_motif": None, "remise_proposee_par_id": None}


def _decider(session, ids, ctx, statut: str) -> None:
    session.execute(sa.update(RemiseReversement)
                    .where(id_in(session, RemiseReversement.reversement_id, ids), RemiseReversement.statut == "a_valider")
                    .values(statut=statut, decide_par_id=ctx.actor_id, decide_at=ctx.now, updated_at=ctx.now)
                    .execution_options(synchronize_session=False))


def apres_remise_accordee(session, ids, ctx) -> None:
    _decider(session, ids, ctx, "accordee")
    apres_recouvrement(session, ids, ctx)


def apres_remise_refusee(session, ids, ctx) -> None:
    if ctx.actor_id is not None:
        _decider(session, ids, ctx, "refusee")


# ---- offsetting against the next payment (interface of issue 13) --------------------------------------
def _payee():
    """Who a payment pays, in the debtor's words: its payable's payee (issue 13 part 1; the query joins Echeance)."""
    return sa.cast(Echeance.payee_type, sa.String), Echeance.payee_id


def imputer_compensations(session, paiement_ids, ctx) -> dict:
    """For the given `en_attente` payments (before their file is written), reduce each by what the same payee
    owes on the same dispositif under a recorded agreement (R47), oldest debt first; record the
    compensation rows, the amounts recovered and the audit events. A payment wholly offset becomes
    `compense` (never a zero or negative transfer: it leaves the file); orders with nothing left are settled.
    Set-based: one SELECT of the payments, one of the debts (both locked), one executemany per table."""
    if not paiement_ids:
        return {"compensations": 0, "montant": Decimal("0.00"), "nets": {}}
    payee_type, payee_id = _payee()
    # only the payments whose payee owes something offsettable come back (ix_reversement_debiteur): a batch
    # of 100 000 payments without debts costs one indexed anti-lookup per row, nothing in Python
    owes = sa.exists().where(Reversement.debiteur_type == payee_type, Reversement.debiteur_id == payee_id,
                             Reversement.dispositif_id == LotPaiement.dispositif_id,
                             Reversement.statut.in_([S.NOTIFIE, S.EN_RECOUVREMENT]),
                             Reversement.accord_compensation_at.is_not(None), reste_du_expr() > 0)
    pays = session.execute(
        sa.select(Paiement.id, payee_type.label("type"), payee_id.label("payee"), Paiement.montant,
                  LotPaiement.dispositif_id, Paiement.lot_id)
        .join(LotPaiement, LotPaiement.id == Paiement.lot_id).join(Echeance, Echeance.id == Paiement.echeance_id)
        .where(id_in(session, Paiement.id, list(paiement_ids)), Paiement.statut == PS.EN_ATTENTE, owes)
        .order_by(Paiement.id).with_for_update(of=Paiement)).all()
    if not pays:
        return {"compensations": 0, "montant": Decimal("0.00"), "nets": {}}
    keys = {(p.type, p.payee, p.dispositif_id) for p in pays}
    debts = session.execute(
        sa.select(Reversement.id, Reversement.debiteur_type, Reversement.debiteur_id, Reversement.dispositif_id,
                  Reversement.statut, reste_du_expr().label("reste"))
        .where(id_in(session, Reversement.debiteur_id, sorted({k[1] for k in keys})),
               Reversement.dispositif_id.in_({k[2] for k in keys}),
               Reversement.statut.in_([S.NOTIFIE, S.EN_RECOUVREMENT]),
               Reversement.accord_compensation_at.is_not(None), reste_du_expr() > 0)
        .order_by(Reversement.id).with_for_update(of=Reversement)).all()
    owed: dict[tuple, list[list]] = {}
    for d in debts:
        owed.setdefault((d.debiteur_type, d.debiteur_id, d.dispositif_id), []).append([d.id, d.reste, d.statut])
    comps, new_amounts, events = [], {}, []
    per_debt: dict[int, Decimal] = {}
    for p in pays:
        left = p.montant
        for debt in owed.get((p.type, p.payee, p.dispositif_id), []):
            if left <= 0:
                break
            take = min(left, debt[1])
            if take <= 0:
                continue
            comps.append({"reversement_id": debt[0], "paiement_id": p.id, "montant": take,
                          "montant_paiement_avant": left, "created_at": ctx.now, "updated_at": ctx.now})
            debt[1] -= take
            per_debt[debt[0]] = per_debt.get(debt[0], Decimal("0")) + take
            left -= take
            events.append({"entity": "reversement", "entity_id": debt[0], "action": "compensation",
                           "actor_id": ctx.actor_id, "at": ctx.now, "bulk_run_id": ctx.bulk_run_id,
                           "params": {"paiement_id": p.id, "montant": take}})
        if left != p.montant:
            new_amounts[p.id] = (p.montant, left)
    if not comps:
        return {"compensations": 0, "montant": Decimal("0.00"), "nets": {}}
    session.execute(sa.insert(Compensation), comps)
    table = Paiement.__table__
    partial = [{"pid": pid, "net": net} for pid, (_, net) in new_amounts.items() if net > 0]
    whole = [{"pid": pid} for pid, (_, net) in new_amounts.items() if net == 0]
    if partial:
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("pid"), table.c.statut == PS.EN_ATTENTE.value)
                        .values(montant=sa.bindparam("net"), updated_at=ctx.now), partial)
    if whole:  # the gross stays in `montant` (> 0); no transfer: the payment is settled by the offset
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("pid"), table.c.statut == PS.EN_ATTENTE.value)
                        .values(statut=PS.COMPENSE.value, updated_at=ctx.now), whole)
    rtable = Reversement.__table__
    session.execute(sa.update(rtable).where(rtable.c.id == sa.bindparam("rid"))
                    .values(montant_compense=rtable.c.montant_compense + sa.bindparam("x", type_=Money),
                            version=rtable.c.version + 1, updated_at=ctx.now),
                    [{"rid": rid, "x": x} for rid, x in per_debt.items()])
    events += [{"entity": "paiement", "entity_id": pid, "action": "compensation", "actor_id": ctx.actor_id,
                "at": ctx.now, "bulk_run_id": ctx.bulk_run_id, "from_status": PS.EN_ATTENTE.value,
                "to_status": (PS.COMPENSE if net == 0 else PS.EN_ATTENTE).value,
                "params": {"montant_avant": before, "montant_apres": net}}
               for pid, (before, net) in new_amounts.items()]
    audit.record_many(session, events)
    _totaux_lots(session, sorted({p.lot_id for p in pays if p.id in new_amounts}), ctx.now)
    _expire(session, Paiement, list(new_amounts))
    _expire(session, Reversement, list(per_debt))
    # notified orders are now being recovered; those with nothing left are settled (R47)
    from .engine import run
    from .reversements import REVERSEMENT
    from .selection import Selection
    notified = [d.id for d in debts if d.id in per_debt and d.statut == S.NOTIFIE]
    if notified:
        run(session, REVERSEMENT, "mettre_en_recouvrement", Selection.of_ids(notified), _systeme(ctx), now=ctx.now,
            system=True, bulk_run_id=ctx.bulk_run_id)
    apres_recouvrement(session, sorted(per_debt), ctx)
    return {"compensations": len(comps), "montant": sum(per_debt.values(), Decimal("0.00")),
            "nets": {pid: net for pid, (_, net) in new_amounts.items()}}


def virements_nets(rows, result: dict) -> list:
    """The accepted rows of a batch (id first, a `montant` column) after the offsets: the reduced ones carry
    their net amount, the wholly offset ones leave the file (never a zero or negative transfer)."""
    nets = result.get("nets") or {}
    if not nets:
        return list(rows)
    out = []
    for r in rows:
        net = nets.get(r[0])
        if net is None:
            out.append(r)
        elif net > 0:
            values = list(r)
            values[list(r._fields).index("montant")] = net
            out.append(tuple(values))
    return out


def annuler_compensations(session, paiement_ids, ctx) -> int:
    """A payment rejected after its offset (controls, bank return): the offset did not happen, so the debts
    get back what had been offset on it (their settlement undone too) and the compensation rows go. To be
    called where a payment becomes `rejete` (workflows/retours_banque, payables' remettre_a_payer)."""
    if not paiement_ids:
        return 0
    rows = session.execute(sa.delete(Compensation).where(id_in(session, Compensation.paiement_id, list(paiement_ids)))
                           .returning(Compensation.reversement_id, Compensation.montant, Compensation.paiement_id)
                           .execution_options(synchronize_session=False)).all()
    per_debt: dict[int, Decimal] = {}
    for rid, montant, _ in rows:
        per_debt[rid] = per_debt.get(rid, Decimal("0")) + montant
    if not per_debt:
        return 0
    rtable = Reversement.__table__
    session.execute(sa.update(rtable).where(rtable.c.id == sa.bindparam("rid"))
                    .values(montant_compense=rtable.c.montant_compense - sa.bindparam("x", type_=Money),
                            statut=sa.case((rtable.c.statut == S.SOLDE.value, S.EN_RECOUVREMENT.value),
                                           else_=rtable.c.statut),
                            solde_at=None, version=rtable.c.version + 1, updated_at=ctx.now),
                    [{"rid": rid, "x": x} for rid, x in per_debt.items()])
    audit.record_many(session, [{"entity": "reversement", "entity_id": rid, "action": "annulation_compensation",
                                 "actor_id": ctx.actor_id, "at": ctx.now, "params": {"paiement_id": pid,
                                                                                     "montant": montant}}
                                for rid, montant, pid in rows])
    _expire(session, Reversement, list(per_debt))
    return len(rows)


def _totaux_lots(session, lot_ids, now) -> None:
    """A batch's count and total are those of the transfers it will carry (not the rejected, not the offset)."""
    live = Paiement.statut.notin_([PS.REJETE, PS.COMPENSE])
    for lot_id in lot_ids:
        n, total = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Paiement.montant), 0))
                                   .where(Paiement.lot_id == lot_id, live)).one()
        session.execute(sa.update(LotPaiement).where(LotPaiement.id == lot_id)
                        .values(nb_paiements=n, montant_total=total, updated_at=now)
                        .execution_options(synchronize_session=False))


def _expire(session, model, ids) -> None:
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.id in wanted:
            session.expire(obj)


# ---- mail ------------------------------------------------------------------------------------------
def _queue(session, **kw):
    from .mail import queue_mail
    queue_mail(session, **kw)


def _destinataires(session, ids):
    """Each order's debtor with an address: the youth's current e-mail, else the debtor's snapshot."""
    email = sa.func.coalesce(Beneficiaire.email, Reversement.debiteur_email)
    return session.execute(
        sa.select(Reversement.id, Reversement.numero, Reversement.montant, Reversement.date_echeance,
                  Reversement.antenne_id, Reversement.origine, Reversement.debiteur_nom.label("nom"),
                  reste_du_expr().label("reste"), email.label("email"))
        .outerjoin(Beneficiaire, Beneficiaire.id == Reversement.beneficiaire_id)
        .where(id_in(session, Reversement.id, list(ids)), email.is_not(None))).all()


def notifier(session, ids, ctx) -> None:
    """Effect of `notifier`: the debtor is told the amount, its origin, the deadline and the ways to repay."""
    for r in _destinataires(session, ids):
        _queue(session, cle=f"reversement-notifie-{r.id}", destinataire=r.email, template="reversement_notifie",
               antenne_id=r.antenne_id,
               contexte={"debiteur": r.nom or "", "numero": r.numero, "montant": format_montant(r.montant),
                         "origine": ORIGINE_LABELS.get(r.origine, r.origine),
                         "echeance": r.date_echeance.strftime("%d/%m/%Y") if r.date_echeance else ""})


# ---- the debtor's account --------------------------------------------------------------------------------
def compte_debiteur(session, debiteur_type: str, debiteur_id: int, scope=None, scope_paiements=None,
                    today: date | None = None) -> dict:
    """What was paid to the debtor, what they owe, the plans, repayments, offsets and remises, with totals.
    `scope` / `scope_paiements` (SQL clauses over Reversement / Paiement) keep the rows the viewer may see."""
    from sqlalchemy.orm import selectinload
    q = (sa.select(Reversement).where(Reversement.debiteur_type == debiteur_type,
                                      Reversement.debiteur_id == debiteur_id)
         .options(selectinload(Reversement.echeances), selectinload(Reversement.remboursements),
                  selectinload(Reversement.compensations), selectinload(Reversement.remises),
                  selectinload(Reversement.dispositif))
         .order_by(Reversement.id))
    if scope is not None:
        q = q.where(scope)
    ordres = session.execute(q).scalars().all()
    paiements = []
    if debiteur_type == "jeune":
        paiements = session.execute(
            sa.select(Paiement.id, Paiement.end_to_end_id, Paiement.montant, Paiement.statut, Paiement.created_at,
                      LotPaiement.reference, LotPaiement.date_execution)
            .join(LotPaiement, LotPaiement.id == Paiement.lot_id)
            .where(Paiement.beneficiaire_id == debiteur_id,
                   *([scope_paiements] if scope_paiements is not None else []))
            .order_by(Paiement.id)).all()
    zero = Decimal("0.00")
    vivants = [o for o in ordres if o.statut != S.ANNULE]
    today = today or date.today()
    totaux = {
        "verse": sum((p.montant for p in paiements if p.statut in (PS.EMIS, PS.EXECUTE)), zero),
        "du": sum((o.montant for o in vivants), zero),
        "rembourse": sum((o.montant_rembourse for o in vivants), zero),
        "compense": sum((o.montant_compense for o in vivants), zero),
        "remis": sum((o.montant_remis for o in vivants), zero),
        "reste": sum((o.reste_du for o in vivants), zero),
    }
    echeances = []
    for o in vivants:
        covered = o.montant - o.reste_du - (o.echeancier_recouvre_avant or zero)
        cumul = zero
        for line in o.echeances:
            cumul += line.montant
            etat = "payée" if cumul <= covered else ("en retard" if line.date_echeance < today else "à venir")
            echeances.append((o, line, etat))
    return {"ordres": ordres, "paiements": paiements, "totaux": totaux, "echeances": echeances}
