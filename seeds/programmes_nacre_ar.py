"""Demo data of NACRE (R51) and Adultes-relais (R52), issue 16, made through their workflows and dated relative to
the seed's « today » (seeds/horloge.py; the plans below are written in its reference calendar, 16/06/2025): the
operators' and employers' partner accounts, the conventions signed (their advance), the monthly statements typed,
sent, validated and paid month by month, the expertise, a convention ended with its excess advance recovered; the
posts paid month by month, their first-quarter declarations regularised into reversements, a contract end. The last
month (NACRE) and the current one (adultes-relais) are left for the demo's own monthly run; the batches of the
earlier months are emitted (SEPA) and the older ones executed by the bank."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import (Compte, ConventionNacre, DeclarationAdulteRelais, Echeance, EtatActiviteNacre,
                               LotPaiement, Paiement, PosteAdulteRelais, Structure)
from backoffice.models.enums import LotStatut, Role, SourceEcheance, TypeStructure
from backoffice.workflows import Selection
from backoffice.workflows import run as _run

from . import horloge as H
from .identites import iban_fr

run = H.horloger(_run)
PDF = b"%PDF-1.4\n% Piece NACRE (demo)\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
NACRE_SOURCES = (SourceEcheance.NACRE_AVANCE, SourceEcheance.NACRE_MENSUALITE, SourceEcheance.NACRE_EXPERTISE)
AR_SOURCES = (SourceEcheance.ADULTE_RELAIS_MOIS, SourceEcheance.ADULTE_RELAIS_REGUL)


def _compte(session, login, structure, prenom, nom) -> Compte:
    """A partner's user attached to its structure (policy.programmes_scope), demo password."""
    from backoffice.passwords import hash_password

    from .comptes import DEMO_PASSWORD
    c = Compte(login=login, role=Role.PARTENAIRE, prenom=prenom, nom=nom, structure_id=structure.id,
               email=f"{login}@partenaire.example.fr", password_hash=hash_password(DEMO_PASSWORD),
               must_change_password=False)
    session.add(c)
    session.flush()
    return c


def _staff(session, login) -> Compte:
    return session.scalars(sa.select(Compte).where(Compte.login == login)).one()


def _emettre(session, sources, now, comptable, executer: bool) -> None:
    """The programme's open batches go out in SEPA files (and, for the older months, are executed by the bank)."""
    from backoffice.workflows import paiements
    emettre_lot, rapprocher_lot = H.Module(paiements).emettre_lot, H.Module(paiements).rapprocher_lot
    lots = session.scalars(sa.select(sa.distinct(Paiement.lot_id)).join(Echeance, Echeance.id == Paiement.echeance_id)
                           .join(LotPaiement, LotPaiement.id == Paiement.lot_id)
                           .where(Echeance.source_type.in_(sources), LotPaiement.statut == LotStatut.PREPAREE)).all()
    for lot_id in sorted(lots):
        emettre_lot(session, lot_id, now=now, actor=comptable)
        if executer:
            rapprocher_lot(session, lot_id, actor=comptable, now=now + timedelta(days=2))


def _mois(annee, mois, pas: int = 1) -> date:
    """A month of the reference calendar on the demo's (pas=3 for the adultes-relais' quarters, R52)."""
    return H.jour(annee, mois, 1, pas=pas)


def _suivant(mo: date, jour: int, heure: int) -> datetime:
    """`jour` of the month after `mo`, at `heure`."""
    return datetime.combine(H.ajouter_mois(mo, 1).replace(day=jour), datetime.min.time()).replace(hour=heure)


def load_nacre(session, operateurs: list[tuple[Structure, Decimal]]) -> dict[str, int]:
    from backoffice.workflows import nacre as _wf
    wf = H.Module(_wf)
    siege, comptable = _staff(session, "siege"), _staff(session, "comptable")
    H.a(H.moment(2022, 12, 1, 9))  # the operators' accounts and the conventions, before they start
    conventions, comptes = [], []
    for k, (op, subvention) in enumerate(operateurs):
        comptes.append(_compte(session, f"operateur-nacre{k + 1}" if k else "operateur-nacre", op, "Nora",
                               f"Opératrice {k + 1}"))
        c = ConventionNacre(numero=f"NACRE-2024-{k + 1:04d}", operateur_id=op.id, subvention_annuelle=subvention,
                            date_debut=_mois(2024, 1), date_fin=H.jour(2026, 12, 31), tarif_phase_1=Decimal("120.00"),
                            tarif_phase_2=Decimal("80.00"), tarif_phase_3=Decimal("45.00"),
                            iban=iban_fr(random.Random(f"nacre-{k}")))
        session.add(c)
        conventions.append(c)
    # an older convention of the third operator, ended this month: its advance was not absorbed by its activity
    ancienne = ConventionNacre(numero="NACRE-2023-0003", operateur_id=operateurs[2][0].id,
                               subvention_annuelle=Decimal("60000.00"), date_debut=_mois(2023, 1),
                               date_fin=H.jour(2024, 12, 31), tarif_phase_1=Decimal("120.00"),
                               tarif_phase_2=Decimal("80.00"), tarif_phase_3=Decimal("45.00"),
                               iban=iban_fr(random.Random("nacre-ancienne")))
    session.add(ancienne)
    session.flush()
    # R51: the first accompaniment contract signed → the advance (25 %); the third 2024 convention has none yet
    for c, jour in ((conventions[0], H.jour(2024, 2, 15)), (conventions[1], H.jour(2024, 3, 4)),
                    (ancienne, H.jour(2023, 2, 1))):
        run(session, wf.CONVENTION, "signer_premier_contrat", Selection.of_ids([c.id]), siege,
            params={"date_premier_contrat": jour}, now=datetime.combine(jour, datetime.min.time()) + timedelta(hours=10))
    _emettre(session, NACRE_SOURCES, H.moment(2024, 4, 1, 9), comptable, executer=True)
    activite = {conventions[0].id: (30, 20, 40), conventions[1].id: (60, 35, 50), ancienne.id: (10, 5, 10)}
    plan = [(ancienne, [_mois(2024, m) for m in (10, 11)])] + [
        (c, [_mois(2025, m) for m in range(1, 6)]) for c in conventions[:2]]
    n_etats = 0
    for c, mois in plan:
        compte = comptes[[op.id for op, _ in operateurs].index(c.operateur_id)]
        for mo in mois:
            p1, p2, p3 = activite[c.id]
            envoi = _suivant(mo, 2, 10)
            H.a(envoi - timedelta(hours=1))  # typed by the operator the morning it sends it
            e = EtatActiviteNacre(convention_id=c.id, mois=mo, nb_phase_1=p1 + mo.month % 3, nb_phase_2=p2,
                                  nb_phase_3=p3)
            session.add(e)
            session.flush()
            n_etats += 1
            run(session, wf.ETAT, "transmettre", Selection.of_ids([e.id]), compte, now=envoi)
            dernier = mo == _mois(2025, 5)  # the last month (May in the reference)
            if c is conventions[1] and dernier:
                continue  # the last statement of the second convention waits for the agency
            run(session, wf.ETAT, "valider", Selection.of_ids([e.id]), siege, now=envoi + timedelta(days=1))
            if dernier:
                continue  # left to the demo's monthly run
            run(session, wf.CONVENTION, "payer_mois", Selection.of_ids([c.id]), comptable,
                params={"mois_paye": mo.isoformat()}, now=envoi + timedelta(days=3))
            _emettre(session, NACRE_SOURCES, envoi + timedelta(days=4), comptable, executer=mo <= _mois(2025, 3))
    # R51: the expertise, on the contract and the supplier's invoice: one paid, one waiting for the agency
    for k, (prestataire, objet, contrat, facture, valider) in enumerate((
            ("Cabinet Étude & Marché", "Étude de marché d'un projet de boulangerie", "2400.00", "2280.00", True),
            ("Expertise Comptable du Nord", "Prévisionnel financier sur 3 ans", "1800.00", "1800.00", False))):
        x = wf.deposer_expertise(session, actor=comptes[0], convention_id=conventions[0].id, prestataire=prestataire,
                                 objet=objet, montant_contrat=Decimal(contrat), montant_facture=Decimal(facture),
                                 date_facture=H.jour(2025, 5, 12 + k), contrat=(PDF, f"contrat-expertise-{k + 1}.pdf"),
                                 facture=(PDF, f"facture-{k + 1}.pdf"), now=H.moment(2025, 5, 20 + k, 11))
        if valider:
            run(session, wf.EXPERTISE, "valider", Selection.of_ids([x.id]), siege, now=H.moment(2025, 5, 28, 10))
    _emettre(session, NACRE_SOURCES, H.moment(2025, 6, 2, 9), comptable, executer=False)
    # R51: the old convention ends: what its activity did not absorb of the advance becomes an ordre de reversement
    run(session, wf.CONVENTION, "terminer", Selection.of_ids([ancienne.id]), siege, now=H.t0() - timedelta(days=2))
    session.flush()
    return {"conventions NACRE": 4, "états d'activité NACRE": n_etats}


def load_adultes_relais(session, employeur: Structure, salaries: list[tuple[str, str]]) -> dict[str, int]:
    from backoffice.workflows import adultes_relais as _wf
    wf = H.Module(_wf)
    siege, comptable = _staff(session, "siege"), _staff(session, "comptable")
    H.a(H.moment(2023, 12, 1, 9, pas=3))  # the employers' accounts and the posts, before the posts start
    compte = _compte(session, "employeur-ar", employeur, "Samia", "Employeuse")
    autre = Structure(code="AR-02", nom="Maison des Associations de Roubaix", type=TypeStructure.EMPLOYEUR,
                      ville="Roubaix", code_postal="59100", email="contact@ar-02.example.fr")
    session.add(autre)
    session.flush()
    _compte(session, "employeur-ar2", autre, "Karim", "Employeur")
    postes = []
    quotites = ("100", "80", "50", "100")
    for k, (nom, prenom) in enumerate(salaries + [("Benali", "Nadia")]):
        p = PosteAdulteRelais(numero_convention=f"AR-2024-{k + 1:04d}", employeur_id=(employeur if k < 4 else autre).id,
                              salarie_nom=nom, salarie_prenom=prenom, salarie_date_naissance=_mois(1975 + k * 3, 3, 3),
                              salarie_qpv=True, salarie_sans_emploi=True, date_debut=_mois(2024, 1, 3),
                              date_fin=H.jour(2026, 12, 31, pas=3), quotite=Decimal(quotites[k % 4]),
                              iban=iban_fr(random.Random(f"adulte-relais-{k}")), aide_annuelle=Decimal("0"),
                              aide_mensuelle=Decimal("0"))
        wf.preparer_poste(p)  # R52: eligibility (dated age, QPV, without a job), aid from the barème
        session.add(p)
        postes.append(p)
    session.flush()
    ids = [p.id for p in postes]
    # Q1 2025 declared in April: no absence; February absent; 5 days in March; the contract ended on 15 March
    declarations = {postes[0].id: ((0, 0, 0), None), postes[1].id: ((0, 28, 0), None),
                    postes[2].id: ((0, 0, 5), None), postes[3].id: ((0, 0, 0), H.jour(2025, 3, 15, pas=3)),
                    postes[4].id: ((0, 0, 0), None)}
    # (their calendar shifted by whole quarters, pas=3: the declared quarter stays a calendar quarter, R52)
    for mo in [_mois(2025, m, 3) for m in range(1, 6)]:  # June (reference) is left to the demo's monthly run
        paie = _suivant(mo, 3, 10)
        if mo == _mois(2025, 4, 3):  # the first quarter's declarations, then their regularisation
            decl_ids = []
            trimestre = (mo.year, (mo.month - 1) // 3) if mo.month > 1 else (mo.year - 1, 4)  # the one just ended
            for pid, (absences, fin) in declarations.items():
                H.a(_suivant(_mois(2025, 3, 3), 8, 9))
                d = DeclarationAdulteRelais(poste_id=pid, annee=trimestre[0], trimestre=trimestre[1],
                                            absences_mois_1=absences[0],
                                            absences_mois_2=absences[1], absences_mois_3=absences[2],
                                            date_fin_contrat=fin)
                session.add(d)
                session.flush()
                decl_ids.append(d.id)
            own = [i for i, pid in zip(decl_ids, declarations) if pid != postes[4].id]
            run(session, wf.DECLARATION, "deposer", Selection.of_ids(own), compte, now=_suivant(_mois(2025, 3, 3), 8, 10))
            run(session, wf.DECLARATION, "regulariser", Selection.of_ids(own), comptable,
                now=_suivant(_mois(2025, 3, 3), 15, 10))
        run(session, wf.POSTE, "payer_mois", Selection.of_ids(ids), comptable, params={"mois_paye": mo.isoformat()},
            now=paie)
        _emettre(session, AR_SOURCES, paie + timedelta(hours=2), comptable, executer=mo <= _mois(2025, 3, 3))
    run(session, wf.POSTE, "terminer", Selection.of_ids([postes[3].id]), siege, now=H.t0() - timedelta(days=1))
    session.flush()
    return {"postes adultes-relais": len(postes), "déclarations trimestrielles adultes-relais": len(declarations)}
