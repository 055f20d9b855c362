"""The payer's controls on the NACRE (R51) and Adultes-relais (R52) payables (issue 13, issue 16), on the populated
database: each refusal reason, read first in the payer's dry run (nothing written), then at the emission (the
payment refused with its French reason, the payable « à repayer »), and the happy path to a SEPA batch.

The states the controls catch cannot all be reached through the workflows (they are the payer's last line of
defence against an inconsistent source): a few are made by an UPDATE written in the test and named as such."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal as D
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import (EcheanceStatut, LotStatut, PaiementStatut, SourceEcheance,
                                     TypeBeneficiairePaiement)
from backoffice.workflows import Selection, run
from backoffice.workflows import adultes_relais as ar
from backoffice.workflows import nacre as wf
from backoffice.workflows.echeances import ECHEANCE, LigneEcheance, apercu_controles, creer_echeances
from backoffice.workflows.paie_programmes import mettre_en_paiement
from backoffice.workflows.paiements import emettre_lot
from tests.conftest import csrf_from
from tests.workflows.test_adultes_relais import employeur, poste
from tests.workflows.test_nacre import IBANS, convention, etat, operateur, signer

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 16, 9, 0)


def payable(s, source, source_id):
    return s.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == source,
                                                 m.Echeance.source_id == source_id)).one()


def paiement(s, echeance):
    return s.scalars(sa.select(m.Paiement).where(m.Paiement.echeance_id == echeance.id)
                     .order_by(m.Paiement.id.desc())).first()


def test_R51_payer_refuses_each_inconsistent_nacre_payable_and_pays_the_others(db, ref, login_as):
    s = db.session
    comptable = ref.comptes["comptable"]
    op, c_op = operateur(s, "OPQ")
    autre, _ = operateur(s, "OPR")
    ok = convention(s, op, "NACRE-P-0001")
    fin_apres = convention(s, op, "NACRE-P-0002")       # resiliated in June: its February advance is still paid
    fin_avant = convention(s, op, "NACRE-P-0003")       # resiliated in January: nothing after
    payee = convention(s, op, "NACRE-P-0004")
    rib = convention(s, op, "NACRE-P-0005")
    avance = convention(s, op, "NACRE-P-0006")
    etat_ko = convention(s, op, "NACRE-P-0007", subvention="40000.00")
    # one year, 40 000,00: advance 10 000,00 ; March 100 × 120 = 12 000 of activity → 2 000,00 ; together 12 000
    plafond = convention(s, op, "NACRE-P-0008", subvention="40000.00", fin=date(2025, 12, 31))
    convs = (ok, fin_apres, fin_avant, payee, rib, avance, etat_ko, plafond)
    for c in convs:
        assert signer(s, ref, c, now=NOW).changed == 1  # the advances (25 %), each in the NACRE batch
    for c in (etat_ko, plafond):
        etat(s, ref, c, c_op, date(2025, 3, 1), 100, 0, 0, now=NOW)
        assert run(s, wf.CONVENTION, "payer_mois", Selection.of_ids([c.id]), comptable,
                   params={"mois_paye": "2025-03-01"}, now=NOW).changed == 1
    for c, when in ((fin_apres, NOW), (fin_avant, datetime(2025, 1, 20, 9))):
        assert run(s, wf.CONVENTION, "resilier", Selection.of_ids([c.id]), ref.comptes["siege"],
                   params={"motif_fin": "Opérateur en liquidation"}, now=when).changed == 1
    s.commit()
    # the inconsistent states, written by the test (UPDATE): another payee, a RIB changed on the convention, an
    # advance lower than its payable, a statement back to « validé », a subsidy lowered under what was paid
    s.execute(sa.update(m.Echeance).where(m.Echeance.source_type == SourceEcheance.NACRE_AVANCE,
                                          m.Echeance.source_id == payee.id).values(payee_id=autre.id))
    s.execute(sa.update(m.ConventionNacre).where(m.ConventionNacre.id == rib.id).values(iban=IBANS[1]))
    s.execute(sa.update(m.ConventionNacre).where(m.ConventionNacre.id == avance.id)
              .values(avance_versee=D("1000.00")))
    s.execute(sa.update(m.EtatActiviteNacre).where(m.EtatActiviteNacre.convention_id == etat_ko.id)
              .values(statut="valide"))
    s.execute(sa.update(m.ConventionNacre).where(m.ConventionNacre.id == plafond.id)
              .values(subvention_annuelle=D("11000.00")))  # 10 000 advance ≤ 11 000 < 12 000 paid together
    s.commit()
    av = {c.numero: payable(s, SourceEcheance.NACRE_AVANCE, c.id) for c in convs}
    mens = {c.numero: payable(s, SourceEcheance.NACRE_MENSUALITE, c.id) for c in (etat_ko, plafond)}
    attendu = {
        av["NACRE-P-0003"].id: "convention NACRE hors période : non en cours, ou terminée ou résiliée avant le mois "
                               "payé (R51)",
        av["NACRE-P-0004"].id: "bénéficiaire différent de l'opérateur de la convention NACRE (R51)",
        av["NACRE-P-0005"].id: "IBAN différent du compte de l'opérateur sur la convention (R76)",
        av["NACRE-P-0006"].id: "montant supérieur à l'avance de la convention (R51)",
        mens["NACRE-P-0007"].id: "état d'activité du mois non payé par la paie mensuelle (R51)",
        mens["NACRE-P-0008"].id: "paiements NACRE cumulés supérieurs à la subvention de la convention (R51)",
    }
    acceptes = {av[n].id for n in ("NACRE-P-0001", "NACRE-P-0002", "NACRE-P-0007", "NACRE-P-0008")}
    [lot_id] = {paiement(s, e).lot_id for e in [*av.values(), *mens.values()]}
    lot = s.get(m.LotPaiement, lot_id)
    assert lot.dispositif.code == "NACRE"

    # the payer's dry run: every reason named, nothing written
    apercu = apercu_controles(s, lot_id)
    for why in attendu.values():
        assert apercu.get(why, 0) >= 1, apercu
    s.rollback()
    # …and on the batch's « Émettre » simulation page, for the comptable (HTTP)
    c = login_as(comptable.login)
    listing = c.get("/admin/lot_paiement/").get_data(as_text=True)
    resp = c.post("/admin/lot_paiement/action/", data={"action": "wf_emettre", "rowid": [lot_id],
                                                       "url": "/admin/lot_paiement/", "csrf_token": csrf_from(listing)})
    assert resp.status_code == 302
    page = unescape(c.get(resp.headers["Location"]).get_data(as_text=True))
    controles = re.search(r'id="apercu-controles">(.*?)</ul>', page, re.S)[1]
    assert f"Lot {lot.reference}" in controles
    for why in attendu.values():
        assert f"seront refusé(s) : {why}" in controles, controles
    s.expire_all()
    assert {paiement(s, s.get(m.Echeance, i)).statut for i in attendu} == {PaiementStatut.EN_ATTENTE}

    assert emettre_lot(s, lot_id, now=NOW, actor=comptable).changed == 1
    s.commit()
    for echeance_id, why in attendu.items():
        e = s.get(m.Echeance, echeance_id)
        p = paiement(s, e)
        assert (p.statut, p.motif_rejet) == (PaiementStatut.REJETE, why)
        assert e.statut == EcheanceStatut.REJETEE and e.motif == f"Refus du payeur : {why}"
    for echeance_id in acceptes:
        assert paiement(s, s.get(m.Echeance, echeance_id)).statut == PaiementStatut.EMIS
    s.refresh(lot)
    fichier = _texte(lot.fichier_sepa)
    assert lot.statut == LotStatut.EMISE and "NACRE AVANCE NACRE-P-0002" in fichier
    assert "NACRE-P-0003" not in fichier

    # the operator's new RIB is the convention's: the refused advance is paid again to it (never to the old one)
    e = s.get(m.Echeance, av["NACRE-P-0005"].id)
    assert run(s, ECHEANCE, "remettre_a_payer", Selection.of_ids([e.id]), comptable, now=NOW).changed == 1
    s.commit()
    s.refresh(e)
    assert (e.statut, e.iban) == (EcheanceStatut.A_PAYER, IBANS[1])
    # a payable whose convention kept its RIB stays refused (R76: never twice to the same account)
    e = s.get(m.Echeance, av["NACRE-P-0006"].id)
    assert run(s, ECHEANCE, "remettre_a_payer", Selection.of_ids([e.id]), comptable, now=NOW).changed == 0


def test_R52_payer_refuses_each_inconsistent_adulte_relais_payable_and_pays_the_others(db, ref):
    s = db.session
    comptable = ref.comptes["comptable"]
    now = datetime(2025, 4, 10, 9, 0)
    emp, _ = employeur(s, "ARQ")
    autre, _ = employeur(s, "ARR")
    p = {k: poste(s, emp, f"AR-P-{k}") for k in ("ok", "fin_apres", "fin_avant", "contrat", "payee", "rib", "montant")}
    assert run(s, ar.POSTE, "payer_mois", Selection.of_ids([x.id for x in p.values()]), comptable,
               params={"mois_paye": "2025-03-01"}, now=now).changed == len(p)
    for k, when in (("fin_apres", now), ("fin_avant", datetime(2025, 2, 20, 9))):
        assert run(s, ar.POSTE, "resilier", Selection.of_ids([p[k].id]), ref.comptes["siege"],
                   params={"motif_fin": "Fin de l'activité"}, now=when).changed == 1
    # a complement whose declaration was never regularised (made by creer_echeances, as the regularisation does)
    decl = m.DeclarationAdulteRelais(poste_id=p["ok"].id, annee=2025, trimestre=1)
    s.add(decl)
    s.flush()
    [regul] = creer_echeances(s, SourceEcheance.ADULTE_RELAIS_REGUL, [LigneEcheance(
        source_id=decl.id, periode=date(2025, 1, 1), payee_type=TypeBeneficiairePaiement.PARTENAIRE,
        payee_id=emp.id, montant=D("100.00"), iban=p["ok"].iban, titulaire=emp.nom,
        libelle="ADULTE-RELAIS REGUL T1 2025")], _ctx(comptable, now))
    assert mettre_en_paiement(s, [regul], _ctx(comptable, now)) == 1
    s.commit()
    # written by the test (UPDATE): a contract ended in February, another payee, a RIB changed on the post, an
    # amount above the month's aid (22 810,61 × 80 / 100 / 12 = 1 520,71, barème of 2024-01-01)
    s.execute(sa.update(m.PosteAdulteRelais).where(m.PosteAdulteRelais.id == p["contrat"].id)
              .values(date_fin_contrat=date(2025, 2, 15)))
    mois = {k: payable(s, SourceEcheance.ADULTE_RELAIS_MOIS, x.id) for k, x in p.items()}
    s.execute(sa.update(m.Echeance).where(m.Echeance.id == mois["payee"].id).values(payee_id=autre.id))
    s.execute(sa.update(m.PosteAdulteRelais).where(m.PosteAdulteRelais.id == p["rib"].id).values(iban=IBANS[1]))
    s.execute(sa.update(m.Echeance).where(m.Echeance.id == mois["montant"].id).values(montant=D("1520.72")))
    s.execute(sa.update(m.Paiement).where(m.Paiement.echeance_id == mois["montant"].id).values(montant=D("1520.72")))
    s.commit()
    attendu = {
        mois["fin_avant"].id: "poste d'adulte-relais hors convention : non conventionné ce mois, ou terminé ou "
                              "résilié avant (R52)",
        mois["contrat"].id: "mois après la fin du contrat de travail de l'adulte-relais (R52)",
        mois["payee"].id: "bénéficiaire différent de l'employeur du poste d'adulte-relais (R52)",
        mois["rib"].id: "IBAN différent du compte de l'employeur sur le poste (R76)",
        mois["montant"].id: "montant supérieur à l'aide mensuelle du poste (R52)",
        regul: "déclaration trimestrielle non régularisée (R52)",
    }
    [lot_id] = {paiement(s, s.get(m.Echeance, i)).lot_id for i in [*attendu, mois["ok"].id, mois["fin_apres"].id]}
    apercu = apercu_controles(s, lot_id)
    for why in attendu.values():
        assert apercu.get(why, 0) >= 1, apercu
    s.rollback()
    assert emettre_lot(s, lot_id, now=now, actor=comptable).changed == 1
    s.commit()
    for echeance_id, why in attendu.items():
        e = s.get(m.Echeance, echeance_id)
        assert (paiement(s, e).statut, paiement(s, e).motif_rejet, e.statut) == (
            PaiementStatut.REJETE, why, EcheanceStatut.REJETEE)
    for k in ("ok", "fin_apres"):
        e = mois[k]
        assert paiement(s, e).statut == PaiementStatut.EMIS
    lot = s.get(m.LotPaiement, lot_id)
    assert lot.statut == LotStatut.EMISE and lot.dispositif.code == "AR"
    fichier = _texte(lot.fichier_sepa)
    assert "AR-P-ok 03/2025" in fichier and "AR-P-fin_avant" not in fichier


def _ctx(actor, now):
    from backoffice.workflows.engine import Context
    return Context(actor_id=actor.id, role=actor.role, now=now, params={})


def _texte(fichier) -> str:
    return fichier.decode() if isinstance(fichier, bytes) else fichier
