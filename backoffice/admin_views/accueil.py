"""The home page's figures (issue 18 §2): each role's own work, and the money and queue charts.

A work item is a declarative line — what it counts (a model and a SQL condition), its amount, the column that
dates its oldest row, the grid it opens filtered on what it counts, and whether it is work to do, work waiting
on someone else, or late. One aggregate query per item (count, sum, oldest), always within the user's row scope
(policy.row_scope), shown only to a role that may open its grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user

from .. import models as m, policy
from ..extensions import db
from ..models.enums import (AllocationStatut as AS, CerfaStatut as CS, EcheanceStatut as ES, HorsDelaiStatut as HS,
                            LotStatut as LS, MailStatut as MS, PaiementStatut as PS, ReversementStatut as RS, Role)
from .filters import filter_args

A_FAIRE, ATTENTE, RETARD = "a_faire", "attente", "retard"
SECTIONS = ((A_FAIRE, "À faire"), (ATTENTE, "En attente des autres"), (RETARD, "En retard"))

# how long a row may wait before the home page calls it late (the R41 rhythm: a send every fortnight; the bank's
# returns around the 1st of M+2, so ~45 days after an emission)
DELAI_SOUMISE = timedelta(days=15)
DELAI_HORS_DELAI = timedelta(days=7)
DELAI_RETOUR_BANQUE = timedelta(days=45)
DELAI_MAIL = timedelta(hours=1)


def _reste_du(r=m.Reversement):
    return r.montant - r.montant_rembourse - r.montant_remis - r.montant_compense


RS_OUVERTS = (RS.EMIS, RS.NOTIFIE, RS.EN_RECOUVREMENT, RS.REMISE_A_VALIDER)


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    model: Any
    where: Callable[[datetime], Any]  # now -> SQL condition
    endpoint: str
    kind: str = A_FAIRE
    amount: Callable[[], Any] | None = None
    since: Callable[[], Any] | None = None  # the column dating a row (its oldest is « le plus ancien »)
    # the grid's filters that select what is counted: [(column, value, operation?)]; now -> list
    filters: Callable[[datetime], list] = field(default=lambda now: [])
    deadline: Callable[[Any, datetime], str | None] | None = None  # (session, now) -> « prochain envoi … »


def _envois_r41(session, now) -> str | None:
    """R41: the next sends, from each programme's calendar (data): « CEJ le 15/12, PACEA le 01/01 »."""
    from ..workflows.echeances import date_de_lot
    rows = session.execute(sa.select(m.Dispositif.id, m.Dispositif.code)
                           .where(m.Dispositif.code.in_(("CEJ", "PACEA"))).order_by(m.Dispositif.code)).all()
    parts = [f"{code} le {date_de_lot(session, i, code, now.date()):%d/%m/%Y}" for i, code in rows]
    return ("Prochains envois (R41) : " + ", ".join(parts)) if parts else None


def _prochaine_execution(session, now) -> str | None:
    d = session.execute(sa.select(sa.func.min(m.LotPaiement.date_execution))
                        .where(m.LotPaiement.statut == LS.PREPAREE)).scalar()
    return f"Exécution la plus proche : {d:%d/%m/%Y}" if d else None


def _dernier_envoi(now) -> date:
    """The last R41 send date passed (the 1st or the 15th): what was validated before it should have gone."""
    d = now.date()
    return d.replace(day=15) if d.day >= 15 else d.replace(day=1)


A = m.Allocation
ITEMS: dict[str, Item] = {i.key: i for i in [
    # the conseiller (their antenne only: row scope)
    Item("alloc_a_soumettre", "Allocations à soumettre", A, lambda now: A.statut == AS.ENREGISTREE, "allocation",
         amount=lambda: A.montant, since=lambda: A.created_at, filters=lambda now: [("statut", AS.ENREGISTREE)]),
    Item("alloc_refusees", "Allocations refusées à corriger", A, lambda now: A.statut == AS.REFUSEE, "allocation",
         amount=lambda: A.montant, since=lambda: A.updated_at, filters=lambda now: [("statut", AS.REFUSEE)]),
    Item("cerfa_refuses", "Cerfa refusés à corriger", m.Cerfa, lambda now: m.Cerfa.statut == CS.REFUSE, "cerfa",
         since=lambda: m.Cerfa.updated_at, filters=lambda now: [("statut", CS.REFUSE)]),
    Item("alloc_chez_siege", "Allocations soumises au siège", A, lambda now: A.statut == AS.SOUMISE, "allocation",
         kind=ATTENTE, amount=lambda: A.montant, since=lambda: A.soumise_at,
         filters=lambda now: [("statut", AS.SOUMISE)]),
    Item("hd_chez_manager", "Demandes hors délai chez le manager", m.DemandeHorsDelai,
         lambda now: m.DemandeHorsDelai.statut == HS.EN_ATTENTE, "demande_hors_delai", kind=ATTENTE,
         amount=lambda: m.DemandeHorsDelai.montant_demande, since=lambda: m.DemandeHorsDelai.created_at,
         filters=lambda now: [("statut", HS.EN_ATTENTE)]),
    Item("alloc_en_paiement", "Allocations en paiement (attente de la banque)", A,
         lambda now: A.statut.in_((AS.TRANSMISE, AS.ACCEPTEE)), "allocation", kind=ATTENTE,
         amount=lambda: A.montant, since=lambda: A.transmise_at, filters=lambda now: [("statut", AS.TRANSMISE)]),
    Item("alloc_soumises_retard", "Allocations soumises depuis plus de 15 jours", A,
         lambda now: sa.and_(A.statut == AS.SOUMISE, A.soumise_at < now - DELAI_SOUMISE), "allocation", kind=RETARD,
         amount=lambda: A.montant, since=lambda: A.soumise_at, filters=lambda now: [("statut", AS.SOUMISE)]),
    # the siège
    Item("cerfa_a_valider", "Cerfa reçus à valider", m.Cerfa, lambda now: m.Cerfa.statut == CS.SIGNE_RECU, "cerfa",
         since=lambda: m.Cerfa.updated_at, filters=lambda now: [("statut", CS.SIGNE_RECU)]),
    Item("alloc_a_valider", "Allocations soumises à valider", A, lambda now: A.statut == AS.SOUMISE, "allocation",
         amount=lambda: A.montant, since=lambda: A.soumise_at, filters=lambda now: [("statut", AS.SOUMISE)]),
    Item("alloc_a_envoyer", "Allocations validées à envoyer en paiement", A,
         lambda now: A.statut == AS.VALIDEE_SIEGE, "allocation", amount=lambda: A.montant,
         since=lambda: A.validee_at, filters=lambda now: [("statut", AS.VALIDEE_SIEGE)], deadline=_envois_r41),
    Item("habilitations", "Demandes d'habilitation en attente", m.DemandeHabilitation,  # R64
         lambda now: m.DemandeHabilitation.statut == "demandee", "demande_habilitation",
         since=lambda: m.DemandeHabilitation.created_at, filters=lambda now: [("statut", "demandee")]),
    Item("alloc_envoi_manque", "Allocations validées avant le dernier envoi (R41) et pas envoyées", A,
         lambda now: sa.and_(A.statut == AS.VALIDEE_SIEGE,
                             A.validee_at < datetime.combine(_dernier_envoi(now), datetime.min.time())),
         "allocation", kind=RETARD, amount=lambda: A.montant, since=lambda: A.validee_at,
         filters=lambda now: [("statut", AS.VALIDEE_SIEGE)]),
    # the manager
    Item("hd_a_decider", "Demandes hors délai à décider", m.DemandeHorsDelai,
         lambda now: m.DemandeHorsDelai.statut == HS.EN_ATTENTE, "demande_hors_delai",
         amount=lambda: m.DemandeHorsDelai.montant_demande, since=lambda: m.DemandeHorsDelai.created_at,
         filters=lambda now: [("statut", HS.EN_ATTENTE)]),
    Item("remises_a_valider", "Remises à valider (second responsable)", m.Reversement,
         lambda now: m.Reversement.statut == RS.REMISE_A_VALIDER, "reversement",
         amount=lambda: m.Reversement.remise_proposee, since=lambda: m.Reversement.updated_at,
         filters=lambda now: [("statut", RS.REMISE_A_VALIDER)]),
    Item("hd_retard", "Demandes hors délai en attente depuis plus de 7 jours", m.DemandeHorsDelai,
         lambda now: sa.and_(m.DemandeHorsDelai.statut == HS.EN_ATTENTE,
                             m.DemandeHorsDelai.created_at < now - DELAI_HORS_DELAI), "demande_hors_delai",
         kind=RETARD, amount=lambda: m.DemandeHorsDelai.montant_demande, since=lambda: m.DemandeHorsDelai.created_at,
         filters=lambda now: [("statut", HS.EN_ATTENTE)]),
    # the comptable
    Item("lots_a_emettre", "Lots préparés à émettre", m.LotPaiement, lambda now: m.LotPaiement.statut == LS.PREPAREE,
         "lot_paiement", amount=lambda: m.LotPaiement.montant_total, since=lambda: m.LotPaiement.created_at,
         filters=lambda now: [("statut", LS.PREPAREE)], deadline=_prochaine_execution),
    Item("reversements_a_notifier", "Reversements émis à notifier", m.Reversement,
         lambda now: m.Reversement.statut == RS.EMIS, "reversement", amount=_reste_du,
         since=lambda: m.Reversement.created_at, filters=lambda now: [("statut", RS.EMIS)]),
    Item("echeances_a_payer", "Échéances à payer (tous programmes)", m.Echeance,
         lambda now: m.Echeance.statut == ES.A_PAYER, "echeance", amount=lambda: m.Echeance.montant,
         since=lambda: m.Echeance.created_at, filters=lambda now: [("statut", ES.A_PAYER)]),
    Item("echeances_a_repayer", "Échéances à repayer (paiement rejeté)", m.Echeance,
         lambda now: m.Echeance.statut == ES.REJETEE, "echeance", amount=lambda: m.Echeance.montant,
         since=lambda: m.Echeance.updated_at, filters=lambda now: [("statut", ES.REJETEE)]),
    Item("lots_chez_banque", "Lots émis en attente de la banque", m.LotPaiement,
         lambda now: m.LotPaiement.statut == LS.EMISE, "lot_paiement", kind=ATTENTE,
         amount=lambda: m.LotPaiement.montant_total, since=lambda: m.LotPaiement.emis_at,
         filters=lambda now: [("statut", LS.EMISE)]),
    Item("reversements_dus", "Reversements encore dus", m.Reversement,
         lambda now: m.Reversement.statut.in_(RS_OUVERTS), "reversement", kind=ATTENTE, amount=_reste_du,
         since=lambda: m.Reversement.created_at, filters=lambda now: [("statut", RS.EN_RECOUVREMENT)]),
    Item("lots_date_passee", "Lots préparés dont la date d'exécution est passée", m.LotPaiement,
         lambda now: sa.and_(m.LotPaiement.statut == LS.PREPAREE, m.LotPaiement.date_execution < now.date()),
         "lot_paiement", kind=RETARD, amount=lambda: m.LotPaiement.montant_total,
         since=lambda: m.LotPaiement.created_at, filters=lambda now: [("statut", LS.PREPAREE)]),
    Item("lots_sans_retour", "Lots émis depuis plus de 45 jours sans retour de la banque", m.LotPaiement,
         lambda now: sa.and_(m.LotPaiement.statut == LS.EMISE, m.LotPaiement.emis_at < now - DELAI_RETOUR_BANQUE),
         "lot_paiement", kind=RETARD, amount=lambda: m.LotPaiement.montant_total, since=lambda: m.LotPaiement.emis_at,
         filters=lambda now: [("statut", LS.EMISE)]),
    Item("reversements_echus", "Reversements à échéance dépassée", m.Reversement,
         lambda now: sa.and_(m.Reversement.statut.in_(RS_OUVERTS), m.Reversement.date_echeance < now.date()),
         "reversement", kind=RETARD, amount=_reste_du, since=lambda: m.Reversement.date_echeance,
         filters=lambda now: [("statut", RS.EN_RECOUVREMENT)]),
    # the support desk and the administrator
    Item("comptes_verrouilles", "Comptes verrouillés", m.Compte, lambda now: m.Compte.statut == "verrouille", "compte",
         since=lambda: m.Compte.updated_at, filters=lambda now: [("statut", "verrouille")]),
    Item("mails_echec", "Mails en échec", m.MailOutbox, lambda now: m.MailOutbox.statut == MS.ECHEC, "mail_outbox",
         since=lambda: m.MailOutbox.created_at, filters=lambda now: [("statut", MS.ECHEC)]),
    Item("mails_en_file", "Mails en file", m.MailOutbox, lambda now: m.MailOutbox.statut == MS.EN_FILE, "mail_outbox",
         kind=ATTENTE, since=lambda: m.MailOutbox.created_at, filters=lambda now: [("statut", MS.EN_FILE)]),
    Item("mails_retard", "Mails en file depuis plus d'une heure", m.MailOutbox,
         lambda now: sa.and_(m.MailOutbox.statut == MS.EN_FILE, m.MailOutbox.created_at < now - DELAI_MAIL),
         "mail_outbox", kind=RETARD, since=lambda: m.MailOutbox.created_at,
         filters=lambda now: [("statut", MS.EN_FILE)]),
]}

# each role's own work, in the order it is read
ROLE_ITEMS = {
    Role.CONSEILLER: ["alloc_a_soumettre", "alloc_refusees", "cerfa_refuses", "alloc_chez_siege", "hd_chez_manager",
                      "alloc_en_paiement", "alloc_soumises_retard"],
    Role.SIEGE: ["cerfa_a_valider", "alloc_a_valider", "alloc_a_envoyer", "habilitations", "hd_chez_manager",
                 "alloc_en_paiement", "lots_chez_banque", "alloc_envoi_manque", "alloc_soumises_retard"],
    Role.MANAGER: ["hd_a_decider", "remises_a_valider", "reversements_dus", "lots_chez_banque", "hd_retard",
                   "reversements_echus"],
    Role.COMPTABLE: ["lots_a_emettre", "reversements_a_notifier", "echeances_a_payer", "echeances_a_repayer",
                     "lots_chez_banque", "reversements_dus", "lots_date_passee", "lots_sans_retour",
                     "reversements_echus"],
    Role.SUPPORT: ["comptes_verrouilles", "mails_echec", "mails_en_file", "mails_retard"],
}
# the administrator oversees everything the others do
ROLE_ITEMS[Role.ADMIN] = list(dict.fromkeys(k for r in (Role.SIEGE, Role.COMPTABLE, Role.MANAGER, Role.SUPPORT)
                                            for k in ROLE_ITEMS[r]))


def _age(oldest, now: datetime) -> str | None:
    """« 12 jours », « 3 heures », « moins d'une heure »: how long the oldest row has waited."""
    if oldest is None:
        return None
    if not isinstance(oldest, datetime):
        oldest = datetime.combine(oldest, datetime.min.time())
    delta = now - oldest
    if delta.days >= 1:
        return f"{delta.days} jour{'s' if delta.days > 1 else ''}"
    hours = delta.seconds // 3600
    return f"{hours} heure{'s' if hours > 1 else ''}" if hours else "moins d'une heure"


def _link(grid, item: Item, now) -> str | None:
    view = grid(item.endpoint)
    if view is None:
        return None
    args = {}
    for n, (column, value, *op) in enumerate(item.filters(now)):
        found = filter_args(view, column, value, *op)
        if not found:
            continue
        [(key, val)] = found.items()
        args[key.replace("flt0_", f"flt{n}_", 1)] = val
    return url_for(f"{item.endpoint}.index_view", **args)


def work_of(role, grid, now: datetime) -> list[dict]:
    """The user's sections: [{kind, title, lignes: [{key, label, count, amount, oldest, deadline, url}]}]."""
    keys = ROLE_ITEMS.get(role)
    if keys is None:
        return []
    rows = []
    for key in keys:
        item = ITEMS[key]
        if not policy.allows(item.endpoint, "view", current_user):
            continue
        cols = [sa.func.count()]
        cols.append(sa.func.coalesce(sa.func.sum(item.amount()), 0) if item.amount else sa.null())
        cols.append(sa.func.min(item.since()) if item.since else sa.null())
        query = sa.select(*cols).select_from(item.model).where(item.where(now))
        clause = policy.row_scope(item.model, current_user)
        if clause is not None:
            query = query.where(clause)
        count, amount, oldest = db.session.execute(query).one()
        rows.append({"key": key, "kind": item.kind, "label": item.label, "count": count,
                     "amount": Decimal(amount) if item.amount else None,
                     "oldest": _age(oldest, now) if count else None,
                     "deadline": item.deadline(db.session, now) if item.deadline and count else None,
                     "url": _link(grid, item, now)})
    return [{"kind": kind, "title": title, "lignes": [r for r in rows if r["kind"] == kind]}
            for kind, title in SECTIONS if any(r["kind"] == kind for r in rows)]


# ---- charts ------------------------------------------------------------------------------------

def _month(column):
    """'YYYY-MM' of a date or timestamp column, on PostgreSQL and SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def _months(now: datetime, n: int = 12) -> list[str]:
    y, mo = now.year, now.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{mo:02d}")
        y, mo = (y, mo - 1) if mo > 1 else (y - 1, 12)
    return out[::-1]


def _scoped(query, model):
    clause = policy.row_scope(model, current_user)
    return query.where(clause) if clause is not None else query


def money_by_programme_and_month(now: datetime) -> dict | None:
    """Paid (payments in an emitted file, by execution month), due (payables not paid yet, by period) and
    recovered (repayments received, by month) per programme over the last 12 months, within the user's scope.
    None for a role that may not see payments."""
    if not policy.allows("paiement", "view", current_user):
        return None
    D, P, L = m.Dispositif, m.Paiement, m.LotPaiement
    # the 12 months up to now, or up to the last month with money when nothing moved lately (a demo's data)
    latest = max([d for d in (
        db.session.execute(_scoped(sa.select(sa.func.max(L.date_execution)).select_from(P).join(L, L.id == P.lot_id)
                                   .where(P.statut.in_((PS.EMIS, PS.EXECUTE))), P)).scalar(),
        db.session.execute(_scoped(sa.select(sa.func.max(m.Remboursement.date_reception)), m.Remboursement)).scalar(),
    ) if d is not None] or [now.date()])
    end = now if latest >= (now - timedelta(days=365)).date() else datetime.combine(latest, datetime.min.time())
    months = _months(end)
    first = date.fromisoformat(months[0] + "-01")
    paid_month = _month(L.date_execution)
    paid = _scoped(sa.select(D.code, paid_month, sa.func.sum(P.montant))
                   .select_from(P).join(L, L.id == P.lot_id).join(D, D.id == L.dispositif_id)
                   .where(P.statut.in_((PS.EMIS, PS.EXECUTE)), L.date_execution >= first)
                   .group_by(D.code, paid_month), P)
    due_month = _month(m.Echeance.periode)
    due = _scoped(sa.select(D.code, due_month, sa.func.sum(m.Echeance.montant))
                  .select_from(m.Echeance).join(D, D.id == m.Echeance.dispositif_id)
                  .where(m.Echeance.statut.in_((ES.A_PAYER, ES.EN_LOT, ES.REJETEE)), m.Echeance.periode >= first)
                  .group_by(D.code, due_month), m.Echeance)
    rec_month = _month(m.Remboursement.date_reception)
    recovered = _scoped(sa.select(D.code, rec_month, sa.func.sum(m.Remboursement.montant))
                        .select_from(m.Remboursement).join(m.Reversement)
                        .join(D, D.id == m.Reversement.dispositif_id)
                        .where(m.Remboursement.date_reception >= first)
                        .group_by(D.code, rec_month), m.Remboursement)
    cells: dict[tuple[str, str], dict[str, Decimal]] = {}
    for name, query in (("paye", paid), ("du", due), ("recouvre", recovered)):
        for code, month, total in db.session.execute(query).all():
            if month in months:
                cells.setdefault((month, code), {"paye": Decimal(0), "du": Decimal(0), "recouvre": Decimal(0)})
                cells[(month, code)][name] += Decimal(total or 0)
    programmes = sorted({code for _m, code in cells})
    by_month = {mo: {k: sum((v[k] for (mm, _c), v in cells.items() if mm == mo), Decimal(0))
                     for k in ("paye", "du", "recouvre")} for mo in months}
    by_programme = {p: {k: sum((v[k] for (_mm, c), v in cells.items() if c == p), Decimal(0))
                        for k in ("paye", "du", "recouvre")} for p in programmes}
    rows = [{"mois": mo, "programme": code, **cells[(mo, code)]} for mo in months for code in programmes
            if (mo, code) in cells]
    return {"months": months, "jusqua": f"{months[-1][5:]}/{months[-1][:4]}", "labels": [f"{mo[5:]}/{mo[:4]}" for mo in months], "programmes": programmes,
            "by_month": by_month, "by_programme": by_programme, "rows": rows}


def queue_health() -> dict | None:
    """Per RQ queue: waiting, running and failed jobs, and the workers alive; the job outbox's backlog. None for a
    role that may not see queues (the administrator's)."""
    if not policy.allows("files", "view", current_user):
        return None
    from flask import current_app

    from ..queue import QUEUES, _redis, redis_ping
    backlog = dict(db.session.execute(sa.select(m.JobOutbox.statut, sa.func.count())
                                      .group_by(m.JobOutbox.statut)).all())
    out = {"redis": False, "queues": [], "workers": 0,
           "outbox": {getattr(k, "value", k): v for k, v in backlog.items()}}
    url = current_app.config["REDIS_URL"]
    if not redis_ping(url):
        return out
    from rq import Queue, Worker
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    conn = _redis(url)
    for name in QUEUES:
        q = Queue(name, connection=conn)
        out["queues"].append({"name": name, "label": QUEUE_LABELS.get(name, name), "attente": q.count,
                              "en_cours": StartedJobRegistry(queue=q).count, "echec": FailedJobRegistry(queue=q).count})
    out["redis"] = True
    out["workers"] = len(Worker.all(connection=conn))
    return out


QUEUE_LABELS = {"payments": "Paiements", "mail": "Mails", "bulk": "Traitements de masse", "default": "Général"}
