"""ESAT and entreprises adaptées (issue 16, R53, R54) on the populated database: the GRTH declaration and its
reimbursement, the EA under 80 % refused (R54), the DGF set by the ARS of the région only, the monthly bulk run
(dry run, confirmation, replay) into the programme's SEPA batches, each ESAT its own.
SMIC brut mensuel 1 801,80 € (barème du 01/11/2024), aide au poste ESAT 50,7 %, EA 80 % (rules.esat)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice import policy
from backoffice.models.enums import DeclarationEsatStatut as DS, Role, SourceEcheance as SE, TypeStructure
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, run
from backoffice.workflows import esat as wf
from backoffice.workflows.errors import RoleRefused, TransitionRefused
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.populated

NOW = datetime(2025, 9, 26, 10, 0)
MARS = date(2025, 3, 1)


def structure(s, code, type_, cp="59000"):
    st = m.Structure(code=code, nom=f"Structure {code}", type=type_, code_postal=cp)
    s.add(st)
    s.flush()
    wf.enregistrer_agrement(s, actor=None, structure_id=st.id, numero=f"N-{code}", places=50,
                            iban="FR1420041010050500013M02606")
    return st


def compte(s, login, role, structure_id):
    c = m.Compte(login=login, email=f"{login}@exemple.fr", nom="Agent", prenom="Zoé", role=role,
                 structure_id=structure_id, password_hash=hash_password(DEMO_PASSWORD), must_change_password=False)
    s.add(c)
    s.flush()
    return c


@pytest.fixture
def acteurs(db, ref):
    s = db.session
    e1 = structure(s, "T-ESAT1", TypeStructure.ESAT)  # Nord: Hauts-de-France
    e2 = structure(s, "T-ESAT2", TypeStructure.ESAT, cp="76000")  # Seine-Maritime: Normandie
    ea1 = structure(s, "T-EA1", TypeStructure.EA)
    ea2 = structure(s, "T-EA2", TypeStructure.EA)
    ars_hdf = s.execute(sa.select(m.Structure).where(m.Structure.code == "ARS-HDF")).scalar_one()
    out = dict(e1=e1, e2=e2, ea1=ea1, ea2=ea2,
               u1=compte(s, "t-esat1", Role.PARTENAIRE, e1.id), u2=compte(s, "t-esat2", Role.PARTENAIRE, e2.id),
               uea1=compte(s, "t-ea1", Role.PARTENAIRE, ea1.id), uea2=compte(s, "t-ea2", Role.PARTENAIRE, ea2.id),
               ars=compte(s, "t-ars", Role.ARS, ars_hdf.id))
    s.commit()
    return out


def test_R53_grth_declaration_reimbursement_and_scope(db, ref, acteurs):
    s, a = db.session, acteurs
    d = wf.deposer_garantie(s, actor=a["u1"], esat_id=a["e1"].id, periode=MARS, nb_travailleurs=12, etp=D("10"),
                            cotisations_obligatoires=D("850.00"), prevoyance=D("40.00"), formation=D("20.00"), now=NOW)
    # 10 × 0,507 × 1 801,80 = 9 135,13 ; + 850,00 + 40,00 + 20,00 = 10 045,13
    assert (d.aide_au_poste, d.montant) == (D("9135.13"), D("10045.13"))
    # another ESAT's user cannot file for it: answered as a missing one
    with pytest.raises(TransitionRefused, match="introuvable"):
        wf.deposer_garantie(s, actor=a["u2"], esat_id=a["e1"].id, periode=date(2025, 4, 1), nb_travailleurs=1,
                            etp=D("1"), cotisations_obligatoires=D("0"), now=NOW)
    with pytest.raises(TransitionRefused, match="déjà déclaré"):
        wf.deposer_garantie(s, actor=a["u1"], esat_id=a["e1"].id, periode=MARS, nb_travailleurs=12, etp=D("10"),
                            cotisations_obligatoires=D("0"), now=NOW)
    visibles = s.execute(sa.select(m.DeclarationGarantie.id).where(
        policy.row_scope(m.DeclarationGarantie, a["u2"]))).scalars().all()
    assert d.id not in visibles
    # the other ESAT's transition on it: answered as missing, nothing changes
    report = run(s, wf.GARANTIE, "refuser", Selection.of_ids([d.id]), a["ars"], params={"motif": "x"}, now=NOW)
    assert report.changed == 1  # the ARS of its région may refuse it
    assert s.get(m.DeclarationGarantie, d.id).statut == DS.REFUSEE


def test_R54_EA_declaration_below_80_percent_refused(db, ref, acteurs):
    s, a = db.session, acteurs
    bas = wf.deposer_ea(s, actor=a["uea2"], ea_id=a["ea2"].id, periode=MARS, effectif_total=20, effectif_th=15,
                        postes_etp=D("12"), now=NOW)  # 15 / 20 = 75 % < 80 %
    ok = wf.deposer_ea(s, actor=a["uea1"], ea_id=a["ea1"].id, periode=MARS, effectif_total=20, effectif_th=16,
                       postes_etp=D("15"), now=NOW)  # 16 / 20 = 80 %
    assert ok.montant == D("21621.60")  # 15 × 0,80 × 1 801,80
    report = run(s, wf.EA, "valider", Selection.of_ids([bas.id, ok.id]), ref.comptes["siege"], now=NOW)
    assert report.changed == 1
    assert report.refused == {"moins de 80 % de travailleurs handicapés dans l'effectif déclaré : aide au poste "
                              "refusée (R54)": 1}
    s.expire_all()
    assert s.get(m.DeclarationEA, bas.id).statut == DS.DEPOSEE and s.get(m.DeclarationEA, ok.id).statut == DS.VALIDEE


def test_R53_dgf_set_by_the_ARS_of_the_region_only(db, ref, acteurs):
    s, a = db.session, acteurs
    with pytest.raises(TransitionRefused, match="Seule l'ARS"):
        wf.fixer_dgf(s, actor=ref.comptes["siege"], esat_id=a["e1"].id, exercice=2025, montant=D("100000"), now=NOW)
    with pytest.raises(TransitionRefused, match="introuvable"):  # Normandie: not its région
        wf.fixer_dgf(s, actor=a["ars"], esat_id=a["e2"].id, exercice=2025, montant=D("100000"), now=NOW)
    d = wf.fixer_dgf(s, actor=a["ars"], esat_id=a["e1"].id, exercice=2025, montant=D("100000"), now=NOW)
    parts = s.execute(sa.select(m.VersementDGF.periode, m.VersementDGF.montant)
                      .where(m.VersementDGF.dotation_id == d.id).order_by(m.VersementDGF.rang)).all()
    assert len(parts) == 12 and parts[0] == (date(2025, 1, 1), D("8333.33")) and parts[11].montant == D("8333.37")
    assert sum(p.montant for p in parts) == D("100000.00")


def test_monthly_bulk_run_dry_run_confirmation_replay_into_SEPA_batches(db, ref, acteurs):
    s, a = db.session, acteurs
    siege, comptable = ref.comptes["siege"], ref.comptes["comptable"]
    g = wf.deposer_garantie(s, actor=a["u1"], esat_id=a["e1"].id, periode=MARS, nb_travailleurs=12, etp=D("10"),
                            cotisations_obligatoires=D("850.00"), prevoyance=D("40.00"), formation=D("20.00"), now=NOW)
    ea = wf.deposer_ea(s, actor=a["uea1"], ea_id=a["ea1"].id, periode=MARS, effectif_total=20, effectif_th=16,
                       postes_etp=D("15"), now=NOW)
    dgf = wf.fixer_dgf(s, actor=a["ars"], esat_id=a["e1"].id, exercice=2025, montant=D("100000"), now=NOW)
    run(s, wf.GARANTIE, "valider", Selection.of_ids([g.id]), siege, now=NOW)
    run(s, wf.EA, "valider", Selection.of_ids([ea.id]), siege, now=NOW)
    # the grids' filter: the test's structures, the month of March
    filtre_g = sa.select(m.DeclarationGarantie.id).where(m.DeclarationGarantie.periode == MARS,
                                                        m.DeclarationGarantie.esat_id == a["e1"].id)
    filtre_v = sa.select(m.VersementDGF.id).where(m.VersementDGF.dotation_id == dgf.id,
                                                 m.VersementDGF.periode <= date(2025, 12, 1))
    preview = run(s, wf.GARANTIE, "liquider", Selection.of_query(filtre_g), comptable, dry_run=True, now=NOW)
    assert (preview.changed, preview.amount) == (1, D("10045.13"))
    dgf_preview = run(s, wf.VERSEMENT_DGF, "liquider", Selection.of_query(filtre_v), comptable, dry_run=True, now=NOW)
    # September 26: January to September are due (9 × 8 333,33 = 74 999,97), the other 3 are refused
    assert (dgf_preview.changed, dgf_preview.amount) == (9, D("74999.97"))
    assert dgf_preview.refused == {"versement d'un mois à venir (R53)": 3}
    assert s.execute(sa.select(sa.func.count()).select_from(m.Echeance).where(
        m.Echeance.source_type.in_([SE.ESAT_GARANTIE, SE.ESAT_DGF]), m.Echeance.payee_id == a["e1"].id)
    ).scalar_one() == 0
    for w, sel in ((wf.GARANTIE, filtre_g), (wf.VERSEMENT_DGF, filtre_v)):
        assert run(s, w, "liquider", Selection.of_query(sel), comptable, now=NOW).changed in (1, 9)
    assert run(s, wf.EA, "liquider", Selection.of_ids([ea.id]), comptable, now=NOW).changed == 1
    ech = s.execute(sa.select(m.Echeance.source_type, sa.func.sum(m.Echeance.montant), sa.func.count())
                    .where(m.Echeance.payee_id.in_([a["e1"].id, a["ea1"].id]),
                           m.Echeance.source_type.in_([SE.ESAT_GARANTIE, SE.ESAT_DGF, SE.EA_AIDE_POSTE]))
                    .group_by(m.Echeance.source_type)).all()
    assert {e[0]: (e[1], e[2]) for e in ech} == {SE.ESAT_GARANTIE: (D("10045.13"), 1),
                                                 SE.ESAT_DGF: (D("74999.97"), 9), SE.EA_AIDE_POSTE: (D("21621.60"), 1)}
    codes = s.execute(sa.select(m.Dispositif.code).join(m.LotPaiement, m.LotPaiement.dispositif_id == m.Dispositif.id)
                      .join(m.Paiement, m.Paiement.lot_id == m.LotPaiement.id)
                      .join(m.Echeance, m.Echeance.id == m.Paiement.echeance_id)
                      .where(m.Echeance.payee_id.in_([a["e1"].id, a["ea1"].id]),
                             m.Echeance.source_type.in_([SE.ESAT_GARANTIE, SE.ESAT_DGF, SE.EA_AIDE_POSTE]))
                      .distinct()).scalars().all()
    assert sorted(codes) == ["EA", "ESAT"]
    # replay: nothing moves, no new payable or payment
    counts = [s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (m.Echeance, m.Paiement)]
    assert run(s, wf.GARANTIE, "liquider", Selection.of_query(filtre_g), comptable, now=NOW).changed == 0
    assert run(s, wf.VERSEMENT_DGF, "liquider", Selection.of_query(filtre_v), comptable, now=NOW).changed == 0
    assert [s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (m.Echeance, m.Paiement)] == counts
    # an ESAT's user cannot liquidate
    with pytest.raises(RoleRefused):
        run(s, wf.GARANTIE, "liquider", Selection.of_query(filtre_g), a["u1"], now=NOW)
