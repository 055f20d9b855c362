"""Partners and the other programmes: Afas declarations (R56-R59), activité partielle (R71-R74),
NACRE (R51), adultes-relais (R52), service civique (R55)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import (Anomalie, Compte, ContratServiceCivique, ConventionNacre, DeclarationPartenaire,
                               Etablissement, LieuAccueil, LigneActivite, LigneDI, MailOutbox, PosteAdulteRelais,
                               Salarie, Structure)
from backoffice.models.enums import (ConventionStatut, DeclarationStatut, DeclarationType, ModeLieu, MotifAP,
                                     TypeStructure)

from .identites import iban_fr, siret


def _structure(session, code, nom, type_, rng, ville="Lille") -> Structure:
    s = Structure(code=code, nom=nom, type=type_, siret=siret(rng), ville=ville, code_postal="59000",
                  email=f"contact@{code.lower()}.example.fr")
    session.add(s)
    session.flush()
    return s


def load_partenaires_et_programmes(session, rng, fake, structures) -> dict[str, int]:
    counts = {"déclarations Afas": 0, "demandes d'indemnisation": 0}
    # --- Afas: espaces de rencontre, one forecast and one actual declaration per year (R56)
    modes = [ModeLieu.MONO_LIEU, ModeLieu.ITINERANCE, ModeLieu.ANTENNE]
    for k, mode in enumerate(modes):
        p = _structure(session, f"ER-{k + 1:02d}", f"Espace de rencontre {fake.city()}", TypeStructure.PARTENAIRE_AFAS, rng)
        lieux = [LieuAccueil(partenaire_id=p.id, nom=f"{p.nom} — lieu {j + 1}", mode=mode, commune=fake.city())
                 for j in range(1 if mode == ModeLieu.MONO_LIEU else 3)]
        session.add_all(lieux)
        session.flush()
        for exercice, type_, statut in [(2024, DeclarationType.PREVISIONNELLE, DeclarationStatut.TRAITEE),
                                        (2024, DeclarationType.REELLE, DeclarationStatut.TRANSMISE if k else DeclarationStatut.CONTROLEE),
                                        (2025, DeclarationType.PREVISIONNELLE, DeclarationStatut.EN_SAISIE)]:
            budget = Decimal(rng.randrange(40_000, 120_000))
            d = DeclarationPartenaire(partenaire_id=p.id, exercice=exercice, type=type_, statut=statut, budget=budget,
                                      charges=budget - Decimal(rng.randrange(0, 5000)), produits=budget,
                                      droit_estime=(budget * Decimal("0.30")).quantize(Decimal("0.01")),
                                      approuvee_par="Président de l'association" if statut != DeclarationStatut.EN_SAISIE else None)
            session.add(d)
            session.flush()
            counts["déclarations Afas"] += 1
            for lieu in lieux:  # R58: activity per venue, twice a year (R57)
                for semestre in (1, 2):
                    session.add(LigneActivite(declaration_id=d.id, lieu_id=lieu.id, semestre=semestre,
                                              heures_rencontres=Decimal(rng.randrange(80, 400)),
                                              heures_entretiens=Decimal(rng.randrange(20, 120)),
                                              heures_organisation=Decimal(rng.randrange(10, 60))))
            if type_ == DeclarationType.REELLE:  # R59: anomalies, justified before transmission
                session.add(Anomalie(declaration_id=d.id, code="ECART-BUDGET",
                                     libelle="Écart de plus de 10 % entre le prévisionnel et le réel",
                                     justification="Fermeture de deux mois pour travaux" if k else None))
    # --- Activité partielle: establishments (one account per SIRET, R62), then everything through the workflows:
    # the DAP filed (R73), decided by the UD or accepted by silence, the DI created with the mailed code (R71),
    # its lines computed (R74), sent, validated (issue 14)
    counts["demandes d'indemnisation"] += _activite_partielle(session, rng, fake)
    # --- NACRE (R51: 25 % advance at the first contract), adultes-relais (R52), service civique (R55)
    for k in range(3):
        op = _structure(session, f"NACRE-{k + 1:02d}", f"Initiative {fake.city()}", TypeStructure.OPERATEUR_NACRE, rng)
        subvention = Decimal(rng.choice([60_000, 90_000, 120_000]))
        session.add(ConventionNacre(numero=f"NACRE-2024-{k + 1:04d}", operateur_id=op.id, subvention_annuelle=subvention,
                                    date_debut=date(2024, 1, 1), date_fin=date(2026, 12, 31),
                                    date_premier_contrat=date(2024, 2, 15), avance_versee=subvention / 4))
    employeur = _structure(session, "AR-01", "Association Médiation Sociale Métropole", TypeStructure.EMPLOYEUR, rng)
    for k in range(4):
        session.add(PosteAdulteRelais(numero_convention=f"AR-2024-{k + 1:04d}", employeur_id=employeur.id,
                                      salarie_nom=fake.last_name(), salarie_prenom=fake.first_name(),
                                      salarie_date_naissance=date(1975 + k * 3, 3, 1), date_debut=date(2024, 1, 1),
                                      date_fin=date(2026, 12, 31), aide_annuelle=Decimal("22810.61"),
                                      aide_mensuelle=Decimal("1900.88")))
    accueil = _structure(session, "SC-01", "Ligue de l'enseignement du Nord", TypeStructure.ORGANISME_ACCUEIL, rng)
    for k in range(6):
        debut = date(2024, 9 + k % 4, 1)
        session.add(ContratServiceCivique(numero=f"SC-2024-{k + 1:05d}", organisme_id=accueil.id,
                                          volontaire_nom=fake.last_name(), volontaire_prenom=fake.first_name(),
                                          volontaire_date_naissance=date(2003, 1 + k, 10), date_debut=debut,
                                          date_fin=debut + timedelta(days=30 * (6 + k)), majoration_sociale=k % 3 == 0,
                                          indemnite_mensuelle=Decimal("504.98"), prestation_accueil=Decimal("114.85"),
                                          statut=ConventionStatut.TERMINEE if k == 0 else ConventionStatut.EN_COURS))
    session.flush()
    counts.update({"établissements (activité partielle)": 8, "conventions NACRE": 3, "postes adultes-relais": 4,
                   "contrats de service civique": 6})
    return counts


PDF_AVIS_CSE = b"%PDF-1.4\n% Avis du CSE (demo)\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _activite_partielle(session, rng, fake) -> int:
    from backoffice.workflows import Selection, run
    from backoffice.workflows import activite_partielle as ap
    from backoffice.rules.activite_partielle import ajouter_mois
    from backoffice.workflows import pieces

    ud = session.scalars(sa.select(Compte).where(Compte.login == "ud")).first()
    t0 = datetime(2025, 6, 16, 9, 0)  # the demo's "today" (seeds.demo.T0)
    n_di = 0
    for k in range(8):
        e = Etablissement(siret=siret(rng), raison_sociale=f"{fake.company()} {fake.company_suffix()}"[:120],
                          libelle_voie=fake.street_name()[:28], code_postal=f"59{rng.randrange(1000):03d}",
                          ville=fake.city()[:80], email=f"rh{k}@entreprise.example.fr", telephone="0320000000",
                          effectif=rng.choice([8, 23, 47, 60, 120]), referent_nom=fake.name(),
                          # its own generator: the account does not shift the demo's other draws
                          iban=iban_fr(random.Random(f"etablissement-{k}")))
        session.add(e)
        session.flush()
        nb = min(e.effectif, 12)
        salaries = [Salarie(etablissement_id=e.id, nom=fake.last_name(), prenom=fake.first_name(),
                            numero_securite_sociale=f"{rng.choice('12')}{rng.randrange(10**13, 10**14)}",
                            taux_horaire_brut=Decimal(rng.choice(["12.50", "15.00", "18.40", "30.00", "60.00"])))
                    for _ in range(nb)]
        session.add_all(salaries)
        session.flush()
        cas = k % 4  # 0 agreed by the UD, 1 accepted by silence, 2 filed 5 days ago, 3 refused
        debut = date(2025, 7, 1) if cas == 2 else date(2025, 1 + k % 3, 1)
        depot = t0 - timedelta(days=5) if cas == 2 else datetime.combine(debut, datetime.min.time()) - timedelta(days=20)
        piece = None
        if e.effectif >= 50:
            piece = pieces.enregistrer_piece(session, actor=None, contenu=PDF_AVIS_CSE, nom_fichier="avis-cse.pdf",
                                             etablissement_id=e.id)
        a = ap.deposer_autorisation(session, actor=None, etablissement_id=e.id, motif=list(MotifAP)[k % 5],
                                    date_debut=debut, date_fin=ajouter_mois(debut, 3) - timedelta(days=1), nb_salaries=nb,
                                    heures_prevues=Decimal(nb * 35 * 3), piece_cse_id=piece.id if piece else None,
                                    now=depot)
        if cas == 0:
            run(session, ap.AUTORISATION, "accorder", Selection.of_ids([a.id]), ud, now=depot + timedelta(days=4))
        elif cas == 1:
            run(session, ap.AUTORISATION, "accord_implicite", Selection.of_ids([a.id]), None,
                params={"_implicite": True}, now=depot + timedelta(days=16), system=True)
        elif cas == 3:
            run(session, ap.AUTORISATION, "refuser", Selection.of_ids([a.id]), ud, now=depot + timedelta(days=6),
                params={"motif_refus": "Baisse d'activité non établie par les pièces fournies"})
        if cas not in (0, 1):
            continue
        # the employer reads its code in the decision notice (the mail job derives it from the reference)
        contexte = session.scalars(sa.select(MailOutbox.contexte).where(MailOutbox.cle == f"ap-decision-{a.id}")).one()
        code = ap.code_de_reference(contexte[ap.REF_CODE])
        for m in range(2):
            mois = debut.month + m
            di = ap.creer_di(session, actor=None, code=code, annee=debut.year, mois=mois, now=t0)
            for s in salaries:
                heures = Decimal(rng.choice([14, 21, 35, 70]))
                session.add(LigneDI(demande_id=di.id, salarie_id=s.id, heures_chomees=heures,
                                    heures_travaillees=Decimal("151.67") - heures))
            ap.recalculer_di(session, [di.id], t0)
            run(session, ap.DI, "envoyer", Selection.of_ids([di.id]), None, now=t0, system=True)
            if m == 0:
                run(session, ap.DI, "valider", Selection.of_ids([di.id]), ud, now=t0 + timedelta(hours=1))
            n_di += 1
    return n_di
