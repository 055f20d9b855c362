"""Partners and the other programmes: Afas declarations (R56-R59), activité partielle (R71-R74),
NACRE (R51), adultes-relais (R52), service civique (R55)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from backoffice.clock import deplacer
from backoffice.models import (Anomalie, Compte, ContratServiceCivique, ConventionNacre,
                               Etablissement, LigneActivite, LigneDI, MailOutbox, PosteAdulteRelais,
                               Salarie, Structure)
from backoffice.models.enums import (ConventionStatut, DeclarationType, ModeLieu, MotifAP,
                                     TypeStructure)

from .identites import iban_fr, siret


def _structure(session, code, nom, type_, rng, ville="Lille") -> Structure:
    s = Structure(code=code, nom=nom, type=type_, siret=siret(rng), ville=ville, code_postal="59000",
                  email=f"contact@{code.lower()}.example.fr")
    session.add(s)
    session.flush()
    return s


def _maintenant(today) -> datetime:
    """The demo's "now" (seeds.demo passes it): a datetime, or 9:00 on a date."""
    if today is None:
        from backoffice.clock import now
        return now().replace(second=0, microsecond=0)
    return today if isinstance(today, datetime) else datetime.combine(today, time(9, 0))


def _annee_de_reference(t0: datetime) -> int:
    """The year whose 16 June last passed: the programmes' history (written for a 16 June 2025) is moved by whole
    years onto it, so that every date stays in the past of the demo's "today" and in the same order."""
    return t0.year if (t0.month, t0.day) >= (6, 16) else t0.year - 1


def load_partenaires_et_programmes(session, rng, fake, structures, today=None) -> dict[str, int]:
    t0 = _maintenant(today)
    an = _annee_de_reference(t0)
    counts = {"déclarations Afas": 0, "demandes d'indemnisation": 0}
    # --- Afas (issue 15): espaces de rencontre, their venues (R58), partner users with their habilitations
    # (R60), one forecast and one actual declaration per year (R56), everything through workflows.afas:
    # typed by the providers, checked (R59) and justified, estimated (R78), approved, sent, processed by the
    # Caf, the acomptes and balances computed (R79)
    counts["déclarations Afas"] += _afas(session, rng, fake, an)
    deplacer(t0)
    # --- Activité partielle: establishments (one account per SIRET, R62), then everything through the workflows:
    # the DAP filed (R73), decided by the UD or accepted by silence, the DI created with the mailed code (R71),
    # its lines computed (R74), sent, validated (issue 14)
    counts["demandes d'indemnisation"] += _activite_partielle(session, rng, fake, t0)
    deplacer(t0)
    # --- NACRE (R51: 25 % advance at the first contract), adultes-relais (R52), service civique (R55)
    for k in range(3):
        op = _structure(session, f"NACRE-{k + 1:02d}", f"Initiative {fake.city()}", TypeStructure.OPERATEUR_NACRE, rng)
        subvention = Decimal(rng.choice([60_000, 90_000, 120_000]))
        session.add(ConventionNacre(numero=f"NACRE-{an - 1}-{k + 1:04d}", operateur_id=op.id, subvention_annuelle=subvention,
                                    date_debut=date(an - 1, 1, 1), date_fin=date(an + 1, 12, 31),
                                    date_premier_contrat=date(an - 1, 2, 15), avance_versee=subvention / 4))
    employeur = _structure(session, "AR-01", "Association Médiation Sociale Métropole", TypeStructure.EMPLOYEUR, rng)
    for k in range(4):
        session.add(PosteAdulteRelais(numero_convention=f"AR-{an - 1}-{k + 1:04d}", employeur_id=employeur.id,
                                      salarie_nom=fake.last_name(), salarie_prenom=fake.first_name(),
                                      salarie_date_naissance=date(1975 + k * 3, 3, 1), date_debut=date(an - 1, 1, 1),
                                      date_fin=date(an + 1, 12, 31), aide_annuelle=Decimal("22810.61"),
                                      aide_mensuelle=Decimal("1900.88")))
    accueil = _structure(session, "SC-01", "Ligue de l'enseignement du Nord", TypeStructure.ORGANISME_ACCUEIL, rng)
    for k in range(6):
        debut = date(an - 1, 9 + k % 4, 1)
        session.add(ContratServiceCivique(numero=f"SC-{an - 1}-{k + 1:05d}", organisme_id=accueil.id,
                                          volontaire_nom=fake.last_name(), volontaire_prenom=fake.first_name(),
                                          volontaire_date_naissance=date(2003, 1 + k, 10), date_debut=debut,
                                          date_fin=debut + timedelta(days=30 * (6 + k)), majoration_sociale=k % 3 == 0,
                                          indemnite_mensuelle=Decimal("504.98"), prestation_accueil=Decimal("114.85"),
                                          statut=ConventionStatut.TERMINEE if debut + timedelta(days=30 * (6 + k)) < t0.date()
                                          else ConventionStatut.EN_COURS))  # the status its dates give
    session.flush()
    counts.update({"établissements (activité partielle)": 8, "conventions NACRE": 3, "postes adultes-relais": 4,
                   "contrats de service civique": 6})
    return counts


def _afas(session, rng, fake, an: int) -> int:
    from backoffice.models import HabilitationAfas
    from backoffice.models.enums import HabilitationAfasRole, Role
    from backoffice.passwords import hash_password
    from backoffice.workflows import Selection, run
    from backoffice.workflows import afas

    from .comptes import DEMO_PASSWORD

    caf = session.scalars(sa.select(Compte).where(Compte.login == "caf")).first()
    password_hash = hash_password(DEMO_PASSWORD)
    n = 0
    modes = [ModeLieu.MONO_LIEU, ModeLieu.ITINERANCE, ModeLieu.ANTENNE]
    for k, mode in enumerate(modes):
        p = _structure(session, f"ER-{k + 1:02d}", f"Espace de rencontre {fake.city()}", TypeStructure.PARTENAIRE_AFAS, rng)
        lieux = [afas.creer_lieu(session, actor=caf, partenaire_id=p.id, nom=f"{p.nom} — lieu {j + 1}", mode=mode,
                                 commune=fake.city(), ouvert_le=date(2020, 1, 1))
                 for j in range(1 if mode == ModeLieu.MONO_LIEU else 3)]
        users = {}
        for role, login, prenom in ((HabilitationAfasRole.FOURNISSEUR_ACTIVITE, "activite", "Agathe"),
                                    (HabilitationAfasRole.FOURNISSEUR_FINANCIER, "finances", "Fabien"),
                                    (HabilitationAfasRole.APPROBATEUR, "approbateur", "Paule")):
            c = Compte(login=f"er{k + 1}-{login}", role=Role.PARTENAIRE, prenom=prenom, nom=f"ER{k + 1}",
                       email=f"{login}@er{k + 1}.example.fr", password_hash=password_hash, must_change_password=False)
            session.add(c)
            session.flush()
            afas.habiliter(session, actor=caf, compte_id=c.id, partenaire_id=p.id, role=role)
            users[role] = c
        act, fin, app = (users[HabilitationAfasRole.FOURNISSEUR_ACTIVITE], users[HabilitationAfasRole.FOURNISSEUR_FINANCIER],
                         users[HabilitationAfasRole.APPROBATEUR])
        # (exercice, type, sent on, how far it goes): chronological, so that each step finds the earlier ones
        plan = [(an - 2, DeclarationType.PREVISIONNELLE, datetime(an - 3, 11, 15, 10), "traitee"),
                (an - 1, DeclarationType.PREVISIONNELLE, datetime(an - 2, 11, 15, 10), "traitee"),
                (an - 2, DeclarationType.REELLE, datetime(an - 1, 3, 20, 10), "traitee"),
                (an, DeclarationType.PREVISIONNELLE, datetime(an - 1, 11, 15, 10), "traitee" if k != 1 else "en_traitement"),
                (an - 1, DeclarationType.REELLE, datetime(an, 3, 20, 10), ["controlee", "transmise", "renvoyee"][k]),
                (an + 1, DeclarationType.PREVISIONNELLE, datetime(an, 6, 10, 10), "en_saisie")]
        for exercice, type_, t, jusqu in plan:
            deplacer(t)  # « Créé le » the day it was typed (the steps below pass their own now)
            d = afas.creer_declaration(session, actor=fin, partenaire_id=p.id, exercice=exercice, type=type_, now=t)
            n += 1
            for lieu in lieux:  # R58: activity per venue, twice a year (R57), by the activity provider
                for semestre in (1, 2):
                    session.add(LigneActivite(declaration_id=d.id, lieu_id=lieu.id, semestre=semestre,
                                              heures_rencontres=Decimal(rng.randrange(150, 400)),
                                              heures_entretiens=Decimal(rng.randrange(20, 120)),
                                              heures_organisation=Decimal(rng.randrange(10, 60))))
            afas.enregistrer(session, [d.id], actor=act, now=t, part=afas.PART_ACTIVITE)
            heures = sum(x.heures_rencontres + x.heures_entretiens + x.heures_organisation
                         for x in session.scalars(sa.select(LigneActivite).where(LigneActivite.declaration_id == d.id)))
            charges = (heures * Decimal(rng.randrange(28, 40))).quantize(Decimal("1"))  # about the ceiling
            d.budget = d.charges = d.produits = charges  # a balanced budget (R59)
            afas.enregistrer(session, [d.id], actor=fin, now=t, part=afas.PART_FINANCES)
            if jusqu == "en_saisie":
                continue
            for a in session.scalars(sa.select(Anomalie).where(Anomalie.declaration_id == d.id)):  # R59
                afas.justifier(session, actor=fin, anomalie_id=a.id, now=t,
                               justification="Activité réorganisée sur l'année (déménagement d'un lieu, recrutement).")
            ids = Selection.of_ids([d.id])
            steps = [("controler", fin, {}), ("approuver", app, {}), ("transmettre", app, {}),
                     ("prendre_en_traitement", caf, {}), ("traiter", caf, {})]
            stop = {"controlee": 1, "transmise": 3, "en_traitement": 4, "renvoyee": 4, "traitee": 5}[jusqu]
            for j, (name, actor, params) in enumerate(steps[:stop]):
                run(session, afas.DECLARATION, name, ids, actor, params=params, now=t + timedelta(days=10 * j))
            if jusqu == "renvoyee":
                run(session, afas.DECLARATION, "renvoyer", ids, caf, now=t + timedelta(days=40),
                    params={"motif_renvoi": "Le compte de résultat ne correspond pas au bilan transmis : à corriger."})
    session.flush()
    return n


PDF_AVIS_CSE = b"%PDF-1.4\n% Avis du CSE (demo)\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _activite_partielle(session, rng, fake, t0: datetime) -> int:
    from backoffice.workflows import Selection, run
    from backoffice.workflows import activite_partielle as ap
    from backoffice.rules.activite_partielle import ajouter_mois
    from backoffice.workflows import pieces

    ud = session.scalars(sa.select(Compte).where(Compte.login == "ud")).first()
    envoi = t0 - timedelta(days=6)  # the claims were typed and sent last week
    n_di = 0
    for k in range(8):
        deplacer(t0 - timedelta(days=240))  # the establishments and their employees are known before their requests
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
        ce_mois = t0.date().replace(day=1)  # periods from 5 to 3 months ago, or next month for the one just filed
        debut = ajouter_mois(ce_mois, 1) if cas == 2 else ajouter_mois(ce_mois, -(5 - k % 3))
        depot = t0 - timedelta(days=5) if cas == 2 else datetime.combine(debut, datetime.min.time()) - timedelta(days=20)
        piece = None
        if e.effectif >= 50:
            piece = pieces.enregistrer_piece(session, actor=None, contenu=PDF_AVIS_CSE, nom_fichier="avis-cse.pdf",
                                             etablissement_id=e.id)
        a = ap.deposer_autorisation(session, actor=None, etablissement_id=e.id, motif=list(MotifAP)[k % 5],
                                    date_debut=debut, date_fin=ajouter_mois(debut, 3) - timedelta(days=1), nb_salaries=nb,
                                    heures_prevues=Decimal(nb * 35 * 3), piece_cse_id=piece.id if piece else None,
                                    now=depot)
        deplacer(depot)
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
        deplacer(envoi)
        for m in range(2):
            mois = ajouter_mois(debut, m)
            di = ap.creer_di(session, actor=None, code=code, annee=mois.year, mois=mois.month, now=envoi)
            for s in salaries:
                heures = Decimal(rng.choice([14, 21, 35, 70]))
                session.add(LigneDI(demande_id=di.id, salarie_id=s.id, heures_chomees=heures,
                                    heures_travaillees=Decimal("151.67") - heures))
            ap.recalculer_di(session, [di.id], envoi)
            run(session, ap.DI, "envoyer", Selection.of_ids([di.id]), None, now=envoi, system=True)
            if m == 0:
                run(session, ap.DI, "valider", Selection.of_ids([di.id]), ud, now=envoi + timedelta(hours=1))
            n_di += 1
    return n_di
