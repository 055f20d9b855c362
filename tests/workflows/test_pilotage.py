"""Pilotage (issue 16, part 5) on the populated database: the restitution's figures equal a plain-Python model
computed row by row from the payments, repayments, offsets and orders (also after random extra rows: Hypothesis);
a région's figures are the sum of its départements', the national ones the sum of the régions' and of the
non-localised part; a bad filter is refused in French (rules.pilotage)."""

from __future__ import annotations

import importlib.util
import pathlib
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from backoffice import models as m
from backoffice.rules.pilotage import (Filtres, FiltreInvalide, departement_du_code_postal, mois_suivant,
                                       parse_filtres)
from backoffice.workflows import pilotage as wf

ZERO = Decimal("0.00")
TOUT = dict(debut=date(2023, 1, 1), fin=date(2025, 12, 1))  # every month the demo has money in
PAYE = ("emis", "execute")
OUVERTS = ("emis", "notifie", "en_recouvrement", "remise_a_valider")


def _referentiel_present(db):
    """The conftest empties every table after each test, the régions and départements included: put the rows of
    migration 0028 back when a previous test took them (the demo's image holds them when it was taken first)."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(m.Departement)) == 101:
        return
    path = pathlib.Path(wf.__file__).parents[1] / "migrations" / "versions" / "0028_pilotage.py"
    spec = importlib.util.spec_from_file_location("migration_0028_pilotage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.inserer_referentiel(db.session.connection())
    db.session.flush()


@pytest.fixture
def demo(populated_db):
    _referentiel_present(populated_db)
    return populated_db


# ---- the plain-Python model ---------------------------------------------------------------------------------

def _places(s) -> dict[tuple[str, int], str | None]:
    """(payee or debtor type, id) → postcode, read table by table (no SQL join): a youth at its antenne's."""
    structures = dict(s.execute(sa.select(m.Structure.id, m.Structure.code_postal)).all())
    out = {}
    for bid, antenne, cp in s.execute(sa.select(m.Beneficiaire.id, m.Beneficiaire.antenne_id,
                                                m.Beneficiaire.code_postal)):
        out[("jeune", bid)] = structures.get(antenne) or cp
    for eid, cp in s.execute(sa.select(m.Etablissement.id, m.Etablissement.code_postal)):
        out[("etablissement", eid)] = cp
    for sid, cp in structures.items():
        for kind in ("partenaire", "structure_accueil", "esat"):
            out[(kind, sid)] = cp
    for cid, org in s.execute(sa.select(m.ContratServiceCivique.id, m.ContratServiceCivique.organisme_id)):
        out[("volontaire", cid)] = structures.get(org)
    return out


def modele(s, f: Filtres) -> dict:
    """The restitution recomputed row by row in Python: {'detail': {(prog, 'YYYY-MM', dep): cell}, 'programme':
    {prog: cell}, 'total': cell, 'territoire': {key: cell}} with beneficiaries as sets."""
    deps = dict(s.execute(sa.select(m.Departement.code, m.Departement.region_code)).all())
    codes = dict(s.execute(sa.select(m.Dispositif.id, m.Dispositif.code)).all())
    places = _places(s)

    def dep_of(kind, ident):
        d = departement_du_code_postal(places.get((str(getattr(kind, "value", kind)), ident)))
        return d if d in deps else None

    def inside(d):
        if f.niveau == "departement":
            return d == f.territoire
        if f.niveau == "region":
            return d is not None and deps[d] == f.territoire
        return True

    def key_of(d):
        return (deps.get(d) if d else None) if f.niveau == "national" else d

    out = {"detail": {}, "programme": {}, "total": None, "territoire": {}}

    def new():
        return {"verse": ZERO, "confirme": ZERO, "recouvre": ZERO, "reste_du": ZERO, "beneficiaires": set()}

    out["total"] = new()

    def add(prog, mois, d, **values):
        if f.programme and prog != f.programme:
            return
        for cell in (out["detail"].setdefault((prog, mois, d), new()), out["programme"].setdefault(prog, new()),
                     out["total"], out["territoire"].setdefault(key_of(d), new())):
            for k, v in values.items():
                if k == "beneficiaires":  # a payee (type, id): distinct within the cell's programme(s) and place
                    cell[k].add(v)
                else:
                    cell[k] += v

    end = f.fin_exclue
    rows = s.execute(sa.select(m.Paiement.montant, m.Paiement.statut, m.LotPaiement.date_execution,
                               m.Echeance.dispositif_id, m.Echeance.payee_type, m.Echeance.payee_id)
                     .join(m.LotPaiement, m.LotPaiement.id == m.Paiement.lot_id)
                     .join(m.Echeance, m.Echeance.id == m.Paiement.echeance_id)).all()
    for montant, statut, jour, disp, kind, ident in rows:
        statut = getattr(statut, "value", statut)
        d = dep_of(kind, ident)
        if statut not in PAYE or not (f.debut <= jour < end) or not inside(d):
            continue
        add(codes[disp], f"{jour:%Y-%m}", d, verse=montant, confirme=montant if statut == "execute" else ZERO,
            beneficiaires=(str(getattr(kind, "value", kind)), ident))
    orders = {r.id: r for r in s.execute(sa.select(m.Reversement)).scalars()}
    recovered = ([(x.reversement_id, x.montant, x.date_reception) for x in s.scalars(sa.select(m.Remboursement))]
                 + [(x.reversement_id, x.montant, x.created_at.date()) for x in s.scalars(sa.select(m.Compensation))])
    for rid, montant, jour in recovered:
        o = orders[rid]
        d = dep_of(o.debiteur_type, o.debiteur_id)
        if f.debut <= jour < end and inside(d):
            add(codes[o.dispositif_id], f"{jour:%Y-%m}", d, recouvre=montant)
    for o in orders.values():
        reste = o.montant - o.montant_rembourse - o.montant_remis - o.montant_compense
        d = dep_of(o.debiteur_type, o.debiteur_id)
        jour = o.created_at.date()
        if getattr(o.statut, "value", o.statut) in OUVERTS and reste > 0 and f.debut <= jour < end and inside(d):
            add(codes[o.dispositif_id], f"{jour:%Y-%m}", d, reste_du=reste)
    return out


def _cell(c: dict) -> dict:
    return {k: (len(v) if k == "beneficiaires" else v) for k, v in c.items()}


def _same(r: wf.Restitution, model: dict) -> None:
    got_detail = {k: c for k, c in r.detail.items() if any(c[x] for x in wf.MESURES) or c["beneficiaires"]}
    want_detail = {k: _cell(c) for k, c in model["detail"].items()}
    assert got_detail == want_detail
    assert {p: c for p, c in r.par_programme.items() if p in model["programme"]} == {
        p: _cell(c) for p, c in model["programme"].items()}
    assert all(not any(c.values()) for p, c in r.par_programme.items() if p not in model["programme"])
    assert r.total == _cell(model["total"])
    assert r.par_territoire == {k: _cell(c) for k, c in model["territoire"].items()}


def _sum(cells) -> dict:
    total = {"verse": ZERO, "confirme": ZERO, "recouvre": ZERO, "reste_du": ZERO, "beneficiaires": 0}
    for c in cells:
        for k in total:
            total[k] += c[k]
    return total


# ---- the figures ----------------------------------------------------------------------------------------------

@pytest.mark.populated
def test_national_figures_equal_the_python_model_of_every_row(demo):
    f = Filtres(**TOUT)
    r = wf.restitution(demo.session, f)
    _same(r, modele(demo.session, f))
    # the demo pays several programmes, in two régions (Hauts-de-France and Normandie)
    assert {p for p, c in r.par_programme.items() if c["verse"] > 0} >= {"CEJ", "PACEA", "NACRE", "AR", "SC", "ESAT"}
    assert {"32", "28"} <= set(r.par_territoire)
    assert r.total["verse"] > r.total["confirme"] > 0 and r.total["recouvre"] > 0 and r.total["reste_du"] > 0


@pytest.mark.populated
@pytest.mark.parametrize("niveau, territoire, programme", [("region", "32", None), ("departement", "59", None),
                                                           ("departement", "80", "ESAT"), ("national", None, "CEJ"),
                                                           ("region", "28", None), ("departement", "75", None)])
def test_filtered_figures_equal_the_python_model(demo, niveau, territoire, programme):
    f = Filtres(debut=date(2024, 7, 1), fin=date(2025, 6, 1), niveau=niveau, territoire=territoire,
                programme=programme)
    _same(wf.restitution(demo.session, f), modele(demo.session, f))


@pytest.mark.populated
def test_a_region_is_the_sum_of_its_departements(demo):
    s = demo.session
    region = wf.restitution(s, Filtres(**TOUT, niveau="region", territoire="32"))
    deps = s.scalars(sa.select(m.Departement.code).where(m.Departement.region_code == "32")).all()
    assert sorted(deps) == ["02", "59", "60", "62", "80"]
    parts = [wf.restitution(s, Filtres(**TOUT, niveau="departement", territoire=d)) for d in deps]
    for key in set(region.cellules) | {k for p in parts for k in p.cellules}:
        assert region.cellules.get(key, _sum([])) == _sum(p.cellules[key] for p in parts if key in p.cellules), key
    for prog in region.programmes:
        assert region.par_programme[prog] == _sum(p.par_programme[prog] for p in parts)
    assert region.total == _sum(p.total for p in parts)
    # the région's own breakdown (its départements) says the same
    assert {k: c for k, c in region.par_territoire.items()} == {p.filtres.territoire: p.total for p in parts
                                                               if any(p.total.values())}
    assert region.total["verse"] > 0


@pytest.mark.populated
def test_national_is_the_sum_of_the_regions_and_of_the_non_localised_part(demo):
    s = demo.session
    # a partner without a postcode: its money is counted nationally, in « non localisé », in no région
    operateur = s.scalar(sa.select(m.Echeance.payee_id).where(m.Echeance.payee_type == "partenaire")
                         .join(m.Paiement, m.Paiement.echeance_id == m.Echeance.id)
                         .where(m.Paiement.statut.in_(PAYE)).limit(1))
    s.get(m.Structure, operateur).code_postal = None
    s.flush()
    national = wf.restitution(s, Filtres(**TOUT))
    regions = s.scalars(sa.select(m.Region.code)).all()
    assert len(regions) == 18
    parts = {code: wf.restitution(s, Filtres(**TOUT, niveau="region", territoire=code)) for code in regions}
    assert national.par_territoire[None]["verse"] > 0
    assert national.total == _sum([*(p.total for p in parts.values()), national.par_territoire[None]])
    for code, p in parts.items():
        assert national.par_territoire.get(code, _sum([])) == p.total, code
    for prog in national.programmes:
        located = _sum(p.par_programme[prog] for p in parts.values())
        assert located["verse"] <= national.par_programme[prog]["verse"]
    _same(national, modele(s, Filtres(**TOUT)))


@pytest.mark.populated
def test_a_programme_filter_gives_that_programme_s_national_line(demo):
    s = demo.session
    national = wf.restitution(s, Filtres(**TOUT))
    for prog in ("CEJ", "NACRE", "ESAT"):
        one = wf.restitution(s, Filtres(**TOUT, programme=prog))
        assert one.programmes == [prog]
        assert one.total == national.par_programme[prog]
        assert one.cellules == {k: c for k, c in national.cellules.items() if k[0] == prog}


@pytest.mark.populated
def test_the_tables_hold_every_programme_and_the_grand_total(demo):
    r = wf.restitution(demo.session, Filtres(**TOUT))
    programmes, territoires = wf.tableaux(r)
    assert programmes.lignes[-1].valeurs == ["Tous programmes", "Total général", r.total["verse"],
                                             r.total["confirme"], r.total["recouvre"], r.total["reste_du"],
                                             r.total["beneficiaires"]]
    totals = [l for l in programmes.lignes if l.genre == "total_programme"]
    assert [l.programme for l in totals] == r.programmes
    assert sum((l.valeurs[2] for l in totals), ZERO) == r.total["verse"]
    months = [l for l in programmes.lignes if l.genre == "mois"]
    assert sum((l.valeurs[5] for l in months), ZERO) == r.total["reste_du"]
    assert territoires.lignes[-1].valeurs[1:] == programmes.lignes[-1].valeurs[2:]


# ---- random rows: the aggregation still matches ---------------------------------------------------------------

_n = count(1)
ROWS = st.lists(st.tuples(st.sampled_from(["paiement", "remboursement"]),
                          st.integers(min_value=0, max_value=10_000),  # which payee / order (modulo)
                          st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000.00"), places=2),
                          st.sampled_from(["emis", "execute", "rejete", "en_attente"]),
                          st.integers(min_value=0, max_value=729)),  # days after 01/07/2024
                min_size=1, max_size=8)


@pytest.mark.populated
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rows=ROWS)
def test_random_payments_and_repayments_keep_the_figures_equal_to_the_model(demo, rows):
    s = demo.session
    payees = s.execute(sa.select(m.Echeance.dispositif_id, m.Echeance.payee_type, m.Echeance.payee_id)
                       .distinct().order_by(m.Echeance.dispositif_id, m.Echeance.payee_type,
                                            m.Echeance.payee_id)).all()
    orders = s.scalars(sa.select(m.Reversement.id).order_by(m.Reversement.id)).all()
    nested = s.begin_nested()
    try:
        for kind, which, montant, statut, days in rows:
            n = next(_n)
            jour = date(2024, 7, 1) + timedelta(days=days)
            if kind == "paiement":
                disp, ptype, pid = payees[which % len(payees)]
                lot = m.LotPaiement(reference=f"PIL-HYP-{n}", dispositif_id=disp, date_execution=jour,
                                    statut="emise", fichier_sha256="0" * 64)
                e = m.Echeance(dispositif_id=disp, source_type="allocation", source_id=900_000_000 + n,
                               periode=jour.replace(day=1), payee_type=ptype, payee_id=pid,
                               iban="FR7630006000011234567890189", titulaire="Hypothesis", libelle="PILOTAGE",
                               montant=montant, statut="en_lot")
                s.add_all([lot, e])
                s.flush()
                s.add(m.Paiement(lot_id=lot.id, echeance_id=e.id, end_to_end_id=f"PIL-HYP-{n}", montant=montant,
                                 titulaire="Hypothesis", iban="FR7630006000011234567890189", libelle="PILOTAGE",
                                 statut=statut, motif_rejet="AC04" if statut == "rejete" else None))
            else:
                s.add(m.Remboursement(reversement_id=orders[which % len(orders)], date_reception=jour,
                                      montant=montant, mode="virement", reference=f"PIL-HYP-{n}"))
        s.flush()
        for f in (Filtres(debut=date(2024, 7, 1), fin=date(2026, 6, 1)),
                  Filtres(debut=date(2024, 7, 1), fin=date(2026, 6, 1), niveau="region", territoire="32")):
            _same(wf.restitution(s, f), modele(s, f))
    finally:
        nested.rollback()


# ---- the filters (rules.pilotage, no database) ----------------------------------------------------------------

DEPS = {"59": "32", "80": "32", "2A": "94", "05": "93", "974": "04"}
KW = dict(departements=DEPS, regions={"32", "94", "93", "04"}, programmes={"CEJ", "NACRE"},
          defaut_fin=date(2025, 6, 1))


@pytest.mark.parametrize("cp, dep", [("59000", "59"), ("80000", "80"), ("20090", "2A"), ("20200", "2B"),
                                     ("20600", "2B"), ("97411", "974"), ("97600", "976"), ("05000", "05"),
                                     (None, None), ("", None), ("7", None)])
def test_a_postcode_gives_its_insee_departement(cp, dep):
    assert departement_du_code_postal(cp) == dep


def test_the_default_period_is_the_twelve_months_up_to_the_last_payment():
    f = parse_filtres({}, **KW)
    assert (f.debut, f.fin, f.niveau, f.territoire, f.programme) == (date(2024, 7, 1), date(2025, 6, 1),
                                                                     "national", None, None)
    assert len(f.mois) == 12 and f.fin_exclue == mois_suivant(f.fin) == date(2025, 7, 1)


@pytest.mark.parametrize("args", [{"debut": "2025-01", "fin": "06/2025", "niveau": "departement",
                                   "territoire": "2a"},
                                  {"debut": "01/2025", "niveau": "departement", "territoire": "5"},
                                  {"niveau": "region", "territoire": "32", "programme": "cej"}])
def test_good_filters_are_read(args):
    f = parse_filtres(args, **KW)
    assert f.territoire in DEPS or f.territoire in KW["regions"]


@pytest.mark.parametrize("args, message", [
    ({"debut": "2025-13"}, "Début de période : le mois 13 n'existe pas"),
    ({"fin": "13/2025"}, "Fin de période : le mois 13 n'existe pas"),
    ({"debut": "2025-06", "fin": "2025-01"}, "La fin de période (01/2025) précède son début (06/2025)."),
    ({"debut": "juin"}, "Début de période : saisissez un mois au format MM/AAAA"),
    ({"debut": "2019-01", "fin": "2025-06"}, "plus de 60 mois"),
    ({"niveau": "departement", "territoire": "999"}, "Département inconnu : « 999 »"),
    ({"niveau": "departement"}, "Choisissez le département."),
    ({"niveau": "region", "territoire": "99"}, "Région inconnue : « 99 »"),
    ({"niveau": "canton"}, "Niveau inconnu"),
    ({"programme": "XYZ"}, "Programme inconnu : « XYZ »"),
])
def test_a_bad_filter_is_refused_in_french(args, message):
    with pytest.raises(FiltreInvalide) as e:
        parse_filtres(args, **KW)
    assert message in str(e.value)
