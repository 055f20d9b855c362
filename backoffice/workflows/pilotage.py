"""Pilotage (issue 16, part 5): per programme and month, the money paid, recovered and still due, and the number
of beneficiaries paid, nationally, for a région or for a département. Read-only: nothing changes here.

What each figure is (the screen says the same):
- **versé**: payments in a SEPA file sent to the bank or executed (paiement.statut `emis` or `execute`), in the
  month of the batch's execution date; **dont confirmé**: those the bank's return confirmed (`execute`). A
  rejected payment, one waiting for its batch or one wholly offset against a debt (`compense`) is not paid.
- **recouvré**: repayments received (remboursement, by date of receipt) plus offsets against a payment
  (compensation, by the day of the offset), on the programme of the ordre de reversement (R47).
- **reste dû**: what the open orders (issued, notified, in recovery, remise waiting) still owe today —
  amount minus repaid, remitted and offset — in the month the order was issued.
- **bénéficiaires**: distinct payees (a youth, an establishment, a partner, a host, a volunteer's contract, an
  ESAT/EA) with money paid (versé) in the month, the programme, the period.

Where a payable is: its payee's postcode → département (rules.pilotage.departement_du_code_postal, written
here in SQL) → région (the `departement` table, migration 0028). A youth is placed at its antenne (the Mission
Locale that follows it), else at its own postcode; an establishment, a partner, a host or an ESAT/EA at its own;
a volunteer at its host. A payee without a postcode, or one outside the referential, counts nationally only
(« non localisé »). Because a payee has one place, every figure of a région is the sum of its départements', and
the national one the sum of the régions' plus the non-localised part.

Six GROUP BY statements per restitution (payments per month, per programme over the period, overall; repayments;
offsets; open orders), grouped by programme, month and département; the région and national levels add these
small results up in Python (beneficiary counts included, since a payee sits in one département).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..models import (Beneficiaire, Compensation, ContratServiceCivique, Departement, Dispositif, Echeance,
                      Etablissement, LotPaiement, Paiement, Region, Remboursement, Reversement, Structure)
from ..models.enums import PaiementStatut as PS, ReversementStatut as RS
from ..rules.pilotage import Filtres, mois_de

ZERO = Decimal("0.00")
MESURES = ("verse", "confirme", "recouvre", "reste_du")
PAYE = (PS.EMIS, PS.EXECUTE)
OUVERTS = (RS.EMIS, RS.NOTIFIE, RS.EN_RECOUVREMENT, RS.REMISE_A_VALIDER)
NON_LOCALISE = None  # the département key of a payee without a known place


def departement_sql(code_postal):
    """SQL twin of rules.pilotage.departement_du_code_postal (PostgreSQL and SQLite: substr and CASE only)."""
    deux = sa.func.substr(code_postal, 1, 2)
    return sa.case(
        (sa.func.length(sa.func.coalesce(code_postal, "")) < 2, sa.null()),
        (deux == "20", sa.case((code_postal < "20200", "2A"), else_="2B")),
        (deux.in_(("97", "98")), sa.func.substr(code_postal, 1, 3)),
        else_=deux)


def with_place(query, type_col, id_col):
    """`query` joined to whatever places a payee or debtor (type, id), and its postcode: outer joins on the
    primary keys, one per kind, so a row is placed in the same statement (no query per row)."""
    kind = sa.cast(type_col, sa.String(20))
    jeune, antenne = aliased(Beneficiaire), aliased(Structure)
    etab = aliased(Etablissement)
    struct = aliased(Structure)
    contrat, hote = aliased(ContratServiceCivique), aliased(Structure)
    query = (query
             .outerjoin(jeune, sa.and_(kind == "jeune", jeune.id == id_col))
             .outerjoin(antenne, antenne.id == jeune.antenne_id)
             .outerjoin(etab, sa.and_(kind == "etablissement", etab.id == id_col))
             .outerjoin(struct, sa.and_(kind.in_(("partenaire", "structure_accueil", "esat")), struct.id == id_col))
             .outerjoin(contrat, sa.and_(kind == "volontaire", contrat.id == id_col))
             .outerjoin(hote, hote.id == contrat.organisme_id))
    cp = sa.func.coalesce(antenne.code_postal, jeune.code_postal, etab.code_postal, struct.code_postal,
                          hote.code_postal)
    return query, departement_sql(cp)


def _month(session, column):
    """'YYYY-MM' of a date or timestamp column."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


@dataclass
class Referentiel:
    departements: dict[str, tuple[str, str]]  # code → (nom, région code)
    regions: dict[str, str]  # code → nom
    programmes: dict[str, str]  # dispositif code → libellé, the programmes with payables or orders
    ids: dict[str, int] = field(default_factory=dict)  # dispositif code → id (the grids' filters)

    def region_de(self, dep: str | None) -> str | None:
        return self.departements[dep][1] if dep in self.departements else None


def referentiel(session) -> Referentiel:
    deps = {c: (n, r) for c, n, r in session.execute(
        sa.select(Departement.code, Departement.nom, Departement.region_code).order_by(Departement.code))}
    regs = dict(session.execute(sa.select(Region.code, Region.nom).order_by(Region.nom)).all())
    used = sa.union(sa.select(Echeance.dispositif_id), sa.select(Reversement.dispositif_id)).subquery()
    rows = session.execute(sa.select(Dispositif.code, Dispositif.libelle, Dispositif.id)
                           .where(Dispositif.id.in_(sa.select(used.c[0]))).order_by(Dispositif.code)).all()
    return Referentiel(deps, regs, {c: lib for c, lib, _i in rows}, {c: i for c, _l, i in rows})


def _within(dep_expr, filtres: Filtres):
    """The territorial filter, in SQL: a département, the départements of a région (the table), or none."""
    if filtres.niveau == "departement":
        return dep_expr == filtres.territoire
    if filtres.niveau == "region":
        return dep_expr.in_(sa.select(Departement.code).where(Departement.region_code == filtres.territoire))
    return sa.true()


def _programme(filtres: Filtres, col):
    if filtres.programme is None:
        return sa.true()
    return col.in_(sa.select(Dispositif.id).where(Dispositif.code == filtres.programme))


def _payee_key():
    return sa.cast(Echeance.payee_type, sa.String(20)) + ":" + sa.cast(Echeance.payee_id, sa.String(12))


def _payments(session, filtres: Filtres, *group):
    """The payments paid in the period, grouped by `group` (labels among prog, mois, dep): sums and distinct
    payees."""
    mois = _month(session, LotPaiement.date_execution)
    q = (sa.select().select_from(Paiement)
         .join(LotPaiement, LotPaiement.id == Paiement.lot_id)
         .join(Echeance, Echeance.id == Paiement.echeance_id)
         .join(Dispositif, Dispositif.id == Echeance.dispositif_id))
    q, dep = with_place(q, Echeance.payee_type, Echeance.payee_id)
    cols = {"prog": Dispositif.code, "mois": mois, "dep": dep}
    keys = [cols[g].label(g) for g in group]
    q = q.add_columns(*keys, sa.func.sum(Paiement.montant).label("verse"),
                      sa.func.sum(sa.case((Paiement.statut == PS.EXECUTE, Paiement.montant), else_=ZERO))
                      .label("confirme"),
                      sa.func.count(sa.distinct(_payee_key())).label("beneficiaires"))
    q = q.where(Paiement.statut.in_(PAYE), LotPaiement.date_execution >= filtres.debut,
                LotPaiement.date_execution < filtres.fin_exclue, _within(dep, filtres),
                _programme(filtres, Echeance.dispositif_id))
    return session.execute(q.group_by(*[cols[g] for g in group])).all()


def _recovered(session, filtres: Filtres):
    out = []
    for amount, day, base in ((Remboursement.montant, Remboursement.date_reception, Remboursement),
                              (Compensation.montant, Compensation.created_at, Compensation)):
        mois = _month(session, day)
        q = (sa.select().select_from(base).join(Reversement, Reversement.id == base.reversement_id)
             .join(Dispositif, Dispositif.id == Reversement.dispositif_id))
        q, dep = with_place(q, Reversement.debiteur_type, Reversement.debiteur_id)
        q = (q.add_columns(Dispositif.code.label("prog"), mois.label("mois"), dep.label("dep"),
                           sa.func.sum(amount).label("recouvre"))
             .where(day >= filtres.debut, day < filtres.fin_exclue, _within(dep, filtres),
                    _programme(filtres, Reversement.dispositif_id))
             .group_by(Dispositif.code, mois, dep))
        out += session.execute(q).all()
    return out


def _outstanding(session, filtres: Filtres):
    mois = _month(session, Reversement.created_at)
    reste = (Reversement.montant - Reversement.montant_rembourse - Reversement.montant_remis
             - Reversement.montant_compense)
    q = sa.select().select_from(Reversement).join(Dispositif, Dispositif.id == Reversement.dispositif_id)
    q, dep = with_place(q, Reversement.debiteur_type, Reversement.debiteur_id)
    q = (q.add_columns(Dispositif.code.label("prog"), mois.label("mois"), dep.label("dep"),
                       sa.func.sum(reste).label("reste_du"), sa.func.count().label("ordres"))
         .where(Reversement.statut.in_(OUVERTS), reste > 0, Reversement.created_at >= filtres.debut,
                Reversement.created_at < filtres.fin_exclue, _within(dep, filtres),
                _programme(filtres, Reversement.dispositif_id))
         .group_by(Dispositif.code, mois, dep))
    return session.execute(q).all()


def _cell() -> dict:
    return {"verse": ZERO, "confirme": ZERO, "recouvre": ZERO, "reste_du": ZERO, "beneficiaires": 0}


@dataclass
class Restitution:
    filtres: Filtres
    ref: Referentiel
    mois: list[date]
    programmes: list[str]  # the codes shown, in order
    # (programme, 'YYYY-MM') → cell; programme → cell over the period; the grand total
    cellules: dict[tuple[str, str], dict] = field(default_factory=dict)
    par_programme: dict[str, dict] = field(default_factory=dict)
    total: dict = field(default_factory=_cell)
    # the level below the chosen one (régions under national, départements under a région): key → cell
    par_territoire: dict[str | None, dict] = field(default_factory=dict)
    # the finest grain, for checks: (programme, 'YYYY-MM', département) → cell
    detail: dict[tuple[str, str, str | None], dict] = field(default_factory=dict)

    @property
    def cles_mois(self) -> list[str]:
        return [f"{d:%Y-%m}" for d in self.mois]

    def libelle_territoire(self, key) -> str:
        if key is None:
            return "Non localisé"
        if key in self.ref.regions:
            return self.ref.regions[key]
        if key in self.ref.departements:
            return f"{key} – {self.ref.departements[key][0]}"
        return key

    @property
    def libelle_niveau(self) -> str:
        f = self.filtres
        if f.niveau == "region":
            return f"Région {self.ref.regions[f.territoire]}"
        if f.niveau == "departement":
            return f"Département {f.territoire} – {self.ref.departements[f.territoire][0]}"
        return "National"


def _add(cell: dict, row, names) -> None:
    for n in names:
        cell[n] += (Decimal(getattr(row, n) or 0) if n != "beneficiaires" else int(getattr(row, n) or 0))


def restitution(session, filtres: Filtres, ref: Referentiel | None = None) -> Restitution:
    """The figures for `filtres` (already checked by rules.pilotage.parse_filtres)."""
    ref = ref or referentiel(session)
    known = set(ref.departements)
    keys = set(mois_de(filtres.debut, filtres.fin))
    keys = {f"{d:%Y-%m}" for d in keys}
    r = Restitution(filtres, ref, mois_de(filtres.debut, filtres.fin),
                    [filtres.programme] if filtres.programme else list(ref.programmes))

    def territoire(dep):
        dep = dep if dep in known else NON_LOCALISE
        if filtres.niveau == "national":
            return ref.region_de(dep)
        return dep

    def cell(d, k):
        return d.setdefault(k, _cell())

    for row in _payments(session, filtres, "prog", "mois", "dep"):
        for target in (cell(r.detail, (row.prog, row.mois, row.dep if row.dep in known else None)),
                       cell(r.cellules, (row.prog, row.mois))):
            _add(target, row, ("verse", "confirme", "beneficiaires"))
        _add(cell(r.par_programme, row.prog), row, ("verse", "confirme"))
        _add(cell(r.par_territoire, territoire(row.dep)), row, ("verse", "confirme"))
        _add(r.total, row, ("verse", "confirme"))
    for row in _payments(session, filtres, "prog", "dep"):  # distinct payees over the period, per programme
        cell(r.par_programme, row.prog)["beneficiaires"] += row.beneficiaires
    for row in _payments(session, filtres, "dep"):  # …and over every programme (a partner paid for two counts once)
        r.total["beneficiaires"] += row.beneficiaires
        cell(r.par_territoire, territoire(row.dep))["beneficiaires"] += row.beneficiaires
    for rows, names in ((_recovered(session, filtres), ("recouvre",)), (_outstanding(session, filtres), ("reste_du",))):
        for row in rows:
            if row.mois not in keys:
                continue
            for target in (cell(r.detail, (row.prog, row.mois, row.dep if row.dep in known else None)),
                           cell(r.cellules, (row.prog, row.mois)), cell(r.par_programme, row.prog),
                           cell(r.par_territoire, territoire(row.dep)), r.total):
                _add(target, row, names)
    for p in r.programmes:
        cell(r.par_programme, p)
    return r


@dataclass
class Ligne:
    valeurs: list  # what the screen shows and the export writes, amounts as Decimal
    genre: str = "mois"  # mois | total_programme | total | territoire
    programme: str | None = None
    mois: str | None = None  # 'YYYY-MM'


@dataclass
class Tableau:
    cle: str
    titre: str
    entetes: list[str]
    lignes: list[Ligne]


ENTETES_MESURES = ["Versé (€)", "dont confirmé par la banque (€)", "Recouvré (€)", "Reste dû (€)",
                   "Bénéficiaires payés"]


def _valeurs(c: dict) -> list:
    return [c["verse"], c["confirme"], c["recouvre"], c["reste_du"], c["beneficiaires"]]


def tableaux(r: Restitution) -> list[Tableau]:
    """Exactly what the screen shows and the export writes: per programme its months with money and its total
    over the period, then the grand total; and the level below the chosen one (régions under national,
    départements under a région) with its total."""
    lignes = []
    for p in r.programmes:
        for k in r.cles_mois:
            c = r.cellules.get((p, k))
            if c is not None:
                lignes.append(Ligne([p, f"{k[5:]}/{k[:4]}", *_valeurs(c)], "mois", p, k))
        lignes.append(Ligne([p, "Total de la période", *_valeurs(r.par_programme[p])], "total_programme", p))
    lignes.append(Ligne(["Tous programmes", "Total général", *_valeurs(r.total)], "total"))
    out = [Tableau("programmes", "Par programme et par mois", ["Programme", "Mois", *ENTETES_MESURES], lignes)]
    if r.filtres.niveau in ("national", "region"):
        titre = "Par région" if r.filtres.niveau == "national" else "Par département"
        keys = sorted(r.par_territoire, key=lambda k: (k is None, r.libelle_territoire(k)))
        rows = [Ligne([r.libelle_territoire(k), *_valeurs(r.par_territoire[k])], "territoire") for k in keys]
        rows.append(Ligne(["Total", *_valeurs(r.total)], "total"))
        out.append(Tableau("territoires", titre, ["Territoire", *ENTETES_MESURES], rows))
    return out
