"""Service civique (issue 16, R55) on the populated database: contracts checked at creation, the monthly run
(computed from the barème of 1 Jan 2024, dry run, confirmation, replay), its payables in the programme's SEPA
batch, a volunteer paid abroad, a host sees only its own."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import (LotStatut, MoisProgrammeStatut as MS, Role, SourceEcheance as SE,
                                     TypeStructure)
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, run
from backoffice.workflows import service_civique as sc
from backoffice.workflows.errors import TransitionRefused
from backoffice.workflows.paiements import emettre_lot
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.populated

NOW = datetime(2025, 9, 24, 10, 0)
IBAN_FR = "FR1420041010050500013M02606"
IBAN_BE = "BE68539007547034"


def organisme(s, code, associatif, iban=None):
    o = m.Structure(code=code, nom=f"Organisme {code}", type=TypeStructure.ORGANISME_ACCUEIL, code_postal="59000")
    s.add(o)
    s.flush()
    sc.enregistrer_agrement(s, actor=None, organisme_id=o.id, numero=f"AG-{code}", associatif=associatif,
                            iban=iban)
    return o


def partenaire(s, login, structure):
    c = m.Compte(login=login, email=f"{login}@exemple.fr", nom="Hôte", prenom="Léa", role=Role.PARTENAIRE,
                 structure_id=structure.id, password_hash=hash_password(DEMO_PASSWORD), must_change_password=False)
    s.add(c)
    s.flush()
    return c


def contrat(s, org, numero, debut, fin, majoration=False, iban=IBAN_FR, naissance=date(2004, 3, 1)):
    return sc.creer_contrat(s, actor=None, organisme_id=org.id, numero=numero, nom="Volontaire", prenom=numero,
                            naissance=naissance, debut=debut, fin=fin, majoration_sociale=majoration, iban=iban,
                            now=datetime(2025, 8, 1, 9))


@pytest.fixture
def hotes(db, ref):
    s = db.session
    asso = organisme(s, "T-ASSO", True, iban=IBAN_FR)
    ville = organisme(s, "T-VILLE", False)
    c1 = contrat(s, asso, "T-SC-1", date(2025, 9, 15), date(2026, 5, 14))  # starts on the 15th
    c2 = contrat(s, asso, "T-SC-2", date(2025, 9, 1), date(2026, 2, 28), majoration=True)  # social increase
    c3 = contrat(s, ville, "T-SC-3", date(2025, 9, 1), date(2026, 6, 30), iban=IBAN_BE)  # paid in Belgium
    s.commit()
    return dict(asso=asso.id, ville=ville.id, c=[c1.id, c2.id, c3.id])


@pytest.mark.parametrize("kw, message", [
    (dict(naissance=date(1999, 8, 31)), "26 ans"),
    (dict(naissance=date(2010, 1, 1)), "15 ans"),
    (dict(fin=date(2026, 2, 27)), "6 à 12 mois"),
    (dict(iban="TR330006100519786457841326"), "zone SEPA"),  # Turkey: not a SEPA country (R76)
    (dict(iban="FR1420041010050500013M02607"), "invalide"),
])
def test_R55_contract_refused_nothing_written(db, ref, kw, message):
    s = db.session
    org = organisme(s, "T-REF", False)
    avant = s.execute(sa.select(sa.func.count()).select_from(m.ContratServiceCivique)).scalar_one()
    args = dict(debut=date(2025, 9, 1), fin=date(2026, 2, 28))
    args.update(kw)
    with pytest.raises(TransitionRefused, match=message):
        contrat(s, org, "T-REFUS", **args)
    assert s.execute(sa.select(sa.func.count()).select_from(m.ContratServiceCivique)).scalar_one() == avant


def test_R55_contract_monthly_amount_from_the_dated_barème(db, hotes):
    c2 = db.session.get(m.ContratServiceCivique, hotes["c"][1])
    # barème du 01/01/2024 : 504,98 + 114,85 (majoration sociale) = 619,83
    assert c2.indemnite_mensuelle == D("619.83") and c2.prestation_accueil == D("114.85")
    assert db.session.get(m.ContratServiceCivique, hotes["c"][2]).iban == IBAN_BE


def _mois_filtre(hotes, periode):
    """What the « Mois de service civique » grid filtered on the month and the test's hosts selects."""
    return (sa.select(m.MoisServiceCivique.id).join(m.ContratServiceCivique)
            .where(m.MoisServiceCivique.periode == periode,
                   m.ContratServiceCivique.organisme_id.in_([hotes["asso"], hotes["ville"]])))


def test_R55_monthly_run_dry_run_confirmation_replay_and_SEPA_batch(db, ref, hotes):
    s = db.session
    siege, comptable = ref.comptes["siege"], ref.comptes["comptable"]
    sept = date(2025, 9, 1)
    orgs = [hotes["asso"], hotes["ville"]]
    # 1. compute September: dry run first, nothing written
    apercu = sc.calculer_mois(s, actor=siege, periode=sept, organisme_ids=orgs, dry_run=True, now=NOW)
    assert (apercu.crees, apercu.deja) == (3, 0)
    # barème du 01/01/2024 — volunteers: 252,49 (15/09: half of 504,98) + 619,83 (504,98 + 114,85) + 504,98
    assert apercu.volontaires == D("252.49") + D("619.83") + D("504.98") == D("1377.30")
    # subsidy to the associative host only: 50,00 (half) + 100,00; prestations owed: 57,43 + 114,85 + 114,85
    assert apercu.subventions == D("150.00")
    assert apercu.prestations == D("57.43") + D("114.85") + D("114.85") == D("287.13")
    assert s.execute(_mois_filtre(hotes, sept)).first() is None
    calcul = sc.calculer_mois(s, actor=siege, periode=sept, organisme_ids=orgs, now=NOW)
    assert calcul.crees == 3
    replay = sc.calculer_mois(s, actor=siege, periode=sept, organisme_ids=orgs, now=NOW)
    assert (replay.crees, replay.deja) == (0, 3)
    premier = s.execute(sa.select(m.MoisServiceCivique).where(
        m.MoisServiceCivique.contrat_id == hotes["c"][0])).scalar_one()
    assert (premier.fraction, premier.indemnite, premier.prestation_due, premier.subvention) == (
        D("0.5000"), D("252.49"), D("57.43"), D("50.00"))

    # 2. liquidate in bulk on the grid's filter: dry run, then confirmation on the same rows
    selection = Selection.of_query(_mois_filtre(hotes, sept))
    preview = run(s, sc.MOIS, "liquider", selection, comptable, dry_run=True, now=NOW)
    assert (preview.changed, preview.refused_total) == (3, 0)
    assert s.execute(sa.select(sa.func.count()).select_from(m.Echeance).where(
        m.Echeance.source_id.in_(calcul.ids), m.Echeance.source_type.in_([SE.SERVICE_CIVIQUE_MOIS,
                                                                          SE.SC_SUBVENTION]))).scalar_one() == 0
    done = run(s, sc.MOIS, "liquider", Selection.of_ids(calcul.ids), comptable, now=NOW)
    assert done.changed == 3, done.message()
    ech = s.execute(sa.select(m.Echeance.source_type, m.Echeance.montant, m.Echeance.iban, m.Echeance.statut)
                    .where(m.Echeance.source_id.in_(calcul.ids),
                           m.Echeance.source_type.in_([SE.SERVICE_CIVIQUE_MOIS, SE.SC_SUBVENTION]))).all()
    volontaires = sorted(e.montant for e in ech if e.source_type == SE.SERVICE_CIVIQUE_MOIS)
    assert volontaires == [D("252.49"), D("504.98"), D("619.83")]
    assert sorted(e.montant for e in ech if e.source_type == SE.SC_SUBVENTION) == [D("50.00"), D("100.00")]
    assert IBAN_BE in {e.iban for e in ech}  # paid abroad, in the same SEPA batch
    assert {e.statut.value for e in ech} == {"en_lot"}
    lots = s.execute(sa.select(m.LotPaiement).join(m.Paiement, m.Paiement.lot_id == m.LotPaiement.id)
                     .join(m.Echeance, m.Echeance.id == m.Paiement.echeance_id)
                     .where(m.Echeance.source_id.in_(calcul.ids),
                            m.Echeance.source_type.in_([SE.SERVICE_CIVIQUE_MOIS, SE.SC_SUBVENTION]))
                     .distinct()).scalars().all()
    assert len(lots) == 1 and lots[0].dispositif.code == "SC" and lots[0].date_execution == date(2025, 10, 1)

    # 3. a replay changes nothing: no move, no payable, no payment
    counts = [s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (m.Echeance, m.Paiement)]
    again = run(s, sc.MOIS, "liquider", selection, comptable, now=NOW)
    assert again.changed == 0 and again.refused_total == 3
    assert [s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (m.Echeance, m.Paiement)] == counts

    # 4. the batch's SEPA file carries them (the payer's controls pass for a liquidated month)
    report = emettre_lot(s, lots[0].id, now=NOW, actor=comptable)
    assert report.changed == 1, report.message()
    s.expire_all()
    lot = s.get(m.LotPaiement, lots[0].id)
    assert lot.statut == LotStatut.EMISE
    xml = lot.fichier_sepa.decode()
    assert IBAN_BE in xml and "<NbOfTxs>5</NbOfTxs>" in xml  # 3 volunteers + 2 subsidies


def test_R55_liquidation_refuses_a_month_of_a_volunteer_without_valid_IBAN(db, ref, hotes):
    s = db.session
    calcul = sc.calculer_mois(s, actor=None, periode=date(2025, 10, 1), organisme_ids=[hotes["ville"]], now=NOW)
    # bypassing the forms (a corrupted row): the guard still refuses it (R76)
    s.execute(sa.update(m.ContratServiceCivique).where(m.ContratServiceCivique.id == hotes["c"][2])
              .values(iban="FR0000000000000000000000000"))
    report = run(s, sc.MOIS, "liquider", Selection.of_ids(calcul.ids), ref.comptes["comptable"], now=NOW)
    assert report.changed == 0
    assert "IBAN du volontaire invalide ou hors zone SEPA (R76)" in report.message()


def test_host_partner_sees_and_computes_only_its_own(db, ref, hotes):
    s = db.session
    asso = s.get(m.Structure, hotes["asso"])
    hote = partenaire(s, "hote-asso", asso)
    from backoffice import policy
    visibles = s.execute(sa.select(m.ContratServiceCivique.id).where(
        policy.row_scope(m.ContratServiceCivique, hote))).scalars().all()
    assert sorted(visibles) == sorted(hotes["c"][:2])
    calcul = sc.calculer_mois(s, actor=ref.comptes["siege"], periode=date(2025, 11, 1),
                              organisme_ids=[hotes["asso"], hotes["ville"]], now=NOW)
    # the host cannot liquidate (ASP's role), and another host's month is answered as missing
    autre = [i for i in calcul.ids if s.get(m.MoisServiceCivique, i).contrat_id == hotes["c"][2]]
    with pytest.raises(Exception, match="rôle"):
        run(s, sc.MOIS, "liquider", Selection.of_ids(autre), hote, now=NOW)
    with pytest.raises(TransitionRefused, match="introuvable"):
        sc.deposer_piece(s, actor=hote, contrat_id=hotes["c"][2], contenu=b"%PDF-1.4 x", nom_fichier="a.pdf",
                         objet="Attestation")
    lien = sc.deposer_piece(s, actor=hote, contrat_id=hotes["c"][0], contenu=b"%PDF-1.4 x", nom_fichier="a.pdf",
                            objet="Attestation")
    assert lien.piece.nom_fichier == "a.pdf"
