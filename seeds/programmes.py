"""Partners and the other programmes: Afas declarations (R56-R59), activité partielle (R71-R74),
NACRE (R51), adultes-relais (R52), service civique (R55). Every date derives from the demo's `today`
(seeds/horloge.py: H.jour / H.moment move the reference calendar; the clock is moved to each workflow's `now`)."""

from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import (Anomalie, Compte, ContratServiceCivique, Etablissement, LigneActivite, LigneDI,
                               MailOutbox, Salarie, Structure)
from backoffice.models.enums import (ConventionStatut, DeclarationType, ModeLieu, MotifAP,
                                     TypeStructure)

from . import horloge as H
from .identites import iban_fr, siret


def _structure(session, code, nom, type_, rng, ville="Lille") -> Structure:
    s = Structure(code=code, nom=nom, type=type_, siret=siret(rng), ville=ville, code_postal="59000",
                  email=f"contact@{code.lower()}.example.fr")
    session.add(s)
    session.flush()
    return s


def load_partenaires_et_programmes(session, rng, fake, structures) -> dict[str, int]:
    counts = {"déclarations Afas": 0, "demandes d'indemnisation": 0}
    # --- Afas (issue 15): espaces de rencontre, their venues (R58), partner users with their habilitations
    # (R60), one forecast and one actual declaration per year (R56), everything through workflows.afas:
    # typed by the providers, checked (R59) and justified, estimated (R78), approved, sent, processed by the
    # Caf, the acomptes and balances computed (R79)
    from backoffice.workflows.afas_items import creer_items_par_defaut
    H.a(H.moment(2022, 9, 1, 8, pas=12))  # the partners are known before their first declaration
    creer_items_par_defaut(session)  # R57: the yearly items (migration 0021), again if the tables were emptied
    counts["déclarations Afas"] += _afas(session, rng, fake)
    # --- Activité partielle: establishments (one account per SIRET, R62), then everything through the workflows:
    # the DAP filed (R73), decided by the UD or accepted by silence, the DI created with the mailed code (R71),
    # its lines computed (R74), sent, validated (issue 14)
    counts["demandes d'indemnisation"] += _activite_partielle(session, rng, fake)
    _inscriptions_ap(session)
    # --- NACRE (R51) and adultes-relais (R52), issue 16: through their workflows (seeds/programmes_nacre_ar.py)
    from .programmes_nacre_ar import load_adultes_relais, load_nacre
    operateurs = []
    H.a(H.moment(2022, 12, 1, 9))  # the operators and employers, before their conventions
    for k in range(3):
        op = _structure(session, f"NACRE-{k + 1:02d}", f"Initiative {fake.city()}", TypeStructure.OPERATEUR_NACRE, rng)
        operateurs.append((op, Decimal(rng.choice([60_000, 90_000, 120_000]))))
    employeur = _structure(session, "AR-01", "Association Médiation Sociale Métropole", TypeStructure.EMPLOYEUR, rng)
    salaries = [(fake.last_name(), fake.first_name()) for _ in range(4)]
    counts.update(load_nacre(session, operateurs))
    counts.update(load_adultes_relais(session, employeur, salaries))
    # --- Service civique (R55) and ESAT / entreprises adaptées (R53, R54), through their workflows (issue 16)
    counts.update(_service_civique(session, rng, fake))
    counts.update(_esat(session, rng, fake))
    session.flush()
    counts.update({"établissements (activité partielle)": 8})
    return counts


def _afas(session, rng, fake) -> int:
    from backoffice.models import HabilitationAfas
    from backoffice.models.enums import HabilitationAfasRole, Role
    from backoffice.passwords import hash_password
    from backoffice.workflows import Selection
    from backoffice.workflows import afas as _afas_wf
    from backoffice.workflows import run as _run
    from backoffice.workflows.afas_items import saisir_items as _saisir_items
    afas, run, saisir_items = H.Module(_afas_wf), H.horloger(_run), H.horloger(_saisir_items)

    from .comptes import DEMO_PASSWORD

    caf = session.scalars(sa.select(Compte).where(Compte.login == "caf")).first()
    password_hash = hash_password(DEMO_PASSWORD)
    n = 0
    modes = [ModeLieu.MONO_LIEU, ModeLieu.ITINERANCE, ModeLieu.ANTENNE]
    for k, mode in enumerate(modes):
        p = _structure(session, f"ER-{k + 1:02d}", f"Espace de rencontre {fake.city()}", TypeStructure.PARTENAIRE_AFAS, rng)
        # the account the acomptes and balance are paid to (R79, R76); not drawn from rng: the rest of the demo
        # keeps its values
        from schwifty import IBAN
        p.iban = str(IBAN.generate("FR", bank_code="42559", branch_code="10000", account_code=f"{k + 1:011d}"))
        lieux = [afas.creer_lieu(session, actor=caf, partenaire_id=p.id, nom=f"{p.nom} — lieu {j + 1}", mode=mode,
                                 commune=fake.city(), ouvert_le=H.jour(2020, 1, 1, pas=12))
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
        # (the Afas year: shifted by whole years, pas=12)
        Y, M = H.annee, functools.partial(H.moment, pas=12)
        plan = [(Y(2023), DeclarationType.PREVISIONNELLE, M(2022, 11, 15, 10), "traitee"),
                (Y(2024), DeclarationType.PREVISIONNELLE, M(2023, 11, 15, 10), "traitee"),
                (Y(2023), DeclarationType.REELLE, M(2024, 3, 20, 10), "traitee"),
                (Y(2025), DeclarationType.PREVISIONNELLE, M(2024, 11, 15, 10), "traitee" if k != 1 else "en_traitement"),
                (Y(2024), DeclarationType.REELLE, M(2025, 3, 20, 10), ["controlee", "transmise", "renvoyee"][k]),
                (Y(2026), DeclarationType.PREVISIONNELLE, M(2025, 6, 10, 10), "en_saisie")]
        for exercice, type_, t, jusqu in plan:
            t = min(t, H.t0() - timedelta(minutes=30))
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
            if type_ == DeclarationType.REELLE:  # R57: the yearly items, each by the provider of its part (R60)
                for part, actor in (("activite", act), ("finances", fin)):
                    saisir_items(session, actor=actor, declaration_id=d.id, saisie=items_exemple(session, part),
                                 now=t)
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


def items_exemple(session, part: str | None = None) -> dict[str, str]:
    """A plausible answer to each active yearly item (R57) of `part`, within its bounds, as typed in a form."""
    from backoffice.workflows.afas_items import items_actifs
    out = {}
    for it in items_actifs(session):
        if part is not None and it.part.value != part:
            continue
        kind = it.type.value
        if kind == "texte":
            out[it.code] = "Ouverture d'un second créneau le mercredi."
        elif kind == "oui_non":
            out[it.code] = "oui"
        else:
            low, high = it.minimum or Decimal("0"), it.maximum or Decimal("100")
            value = min(high, low + max(Decimal("1"), (high - low) / 100)).quantize(Decimal("1"))
            out[it.code] = str(value).replace(".", ",")
    return out


_MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
         "décembre")
PDF_AVIS_CSE = b"%PDF-1.4\n% Avis du CSE (demo)\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _inscriptions_ap(session) -> None:
    """Two employers' sign-ups from the public page (R62, R63), waiting for the siège or the UD (R65); their own
    generator, so the demo's other draws stay the same."""
    from backoffice.workflows import inscriptions as _inscriptions
    inscriptions = H.Module(_inscriptions)

    r = random.Random("inscriptions-ap")
    t0 = H.t0()  # the demo's « now »
    for k, (nom, prenom, ville, cp) in enumerate((("Lemaire", "Élodie", "Lille", "59000"),
                                                  ("Carpentier", "Hugo", "Valenciennes", "59300"))):
        email = f"{prenom[0].lower()}.{nom.lower()}@inscription{k}.example.fr"
        inscriptions.deposer_inscription(
            session, siret=siret(r), donnees={
                "raison_sociale": f"Boulangerie {nom}", "libelle_voie": f"{k + 3} rue de la Gare",
                "complement_adresse": None, "code_postal": cp, "ville": ville,
                "email_etablissement": f"contact@inscription{k}.example.fr", "telephone_etablissement": "0320123456",
                "effectif": 6 + k, "contact_nom": nom, "contact_prenom": prenom, "contact_email": email,
                "contact_telephone": "0320654321", "question_secrete": inscriptions.QUESTIONS[k]},
            email_etablissement_confirmation=f"contact@inscription{k}.example.fr", contact_email_confirmation=email,
            reponse_secrete="Réponse de démonstration", now=t0 - timedelta(days=1 + k))


def _activite_partielle(session, rng, fake) -> int:
    from backoffice.workflows import Selection
    from backoffice.workflows import activite_partielle as _ap
    from backoffice.workflows import run as _run
    from backoffice.rules.activite_partielle import ajouter_mois
    from backoffice.workflows import pieces
    ap, run = H.Module(_ap), H.horloger(_run)

    ud = session.scalars(sa.select(Compte).where(Compte.login == "ud")).first()
    t0 = H.t0()  # the demo's « now »
    n_di = 0
    for k in range(8):
        cas = k % 4  # 0 agreed by the UD, 1 accepted by silence, 2 filed 5 days ago, 3 refused
        debut = (H.ajouter_mois(t0.date(), 1).replace(day=1) if cas == 2 else H.jour(2025, 1 + k % 3, 1))
        depot = t0 - timedelta(days=5) if cas == 2 else datetime.combine(debut, datetime.min.time()) - timedelta(days=20)
        H.a(depot - timedelta(days=2))  # the employer known to the UD a little before it files
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
            periode = H.ajouter_mois(debut, m)
            # filed a few days after the month (R71), at the latest four days ago
            quand = min(datetime.combine(H.ajouter_mois(periode, 1), datetime.min.time()) + timedelta(days=5, hours=10),
                        t0 - timedelta(days=4))
            di = ap.creer_di(session, actor=None, code=code, annee=periode.year, mois=periode.month, now=quand)
            for s in salaries:
                heures = Decimal(rng.choice([14, 21, 35, 70]))
                session.add(LigneDI(demande_id=di.id, salarie_id=s.id, heures_chomees=heures,
                                    heures_travaillees=Decimal("151.67") - heures))
            ap.recalculer_di(session, [di.id], quand)
            run(session, ap.DI, "envoyer", Selection.of_ids([di.id]), None, now=quand, system=True)
            if m == 0:
                run(session, ap.DI, "valider", Selection.of_ids([di.id]), ud, now=quand + timedelta(hours=1))
            n_di += 1
    return n_di


def _partenaire(session, login, structure, prenom, nom):
    """A partner's user attached to its structure (Elisa, the ESAT extranet): it sees that structure's records."""
    from backoffice.models.enums import Role
    from backoffice.passwords import hash_password

    from .comptes import DEMO_PASSWORD
    c = Compte(login=login, role=Role.PARTENAIRE, prenom=prenom, nom=nom, email=f"{login}@partenaire.example.fr",
               structure_id=structure.id, password_hash=hash_password(DEMO_PASSWORD), must_change_password=False)
    session.add(c)
    session.flush()
    return c


def _service_civique(session, rng, fake) -> dict[str, int]:
    """Issue 16 (R55): two hosts (an association, with the subsidy; a town, without), their volunteers' contracts
    created with the R55 checks (one starts on the 15th, some with the social increase, one paid abroad), each
    month computed from the barème and liquidated into the programme's SEPA batches by the ASP; the current
    month computed and left to liquidate in the grid; the host's user « accueil » (Elisa) sees its own."""
    from backoffice.models import LotPaiement, Paiement, Echeance, MoisServiceCivique
    from backoffice.models.enums import LotStatut, MoisProgrammeStatut
    from backoffice.workflows import Selection
    from backoffice.workflows import paiements, run as _run
    from backoffice.workflows import service_civique as _sc
    sc, run, emettre_lot = H.Module(_sc), H.horloger(_run), H.Module(paiements).emettre_lot

    t0 = H.t0()  # the demo's « now »
    H.a(H.moment(2024, 9, 1, 9))  # the hosts' agréments, before the first contract
    siege = session.scalars(sa.select(Compte).where(Compte.login == "siege")).one()
    comptable = session.scalars(sa.select(Compte).where(Compte.login == "comptable")).one()
    ligue = _structure(session, "SC-01", "Ligue de l'enseignement du Nord", TypeStructure.ORGANISME_ACCUEIL, rng)
    mairie = _structure(session, "SC-02", "Ville de Tourcoing", TypeStructure.ORGANISME_ACCUEIL, rng,
                        ville="Tourcoing")
    sc.enregistrer_agrement(session, actor=siege, organisme_id=ligue.id, numero="NA-059-23-00012-00",
                            associatif=True, iban=iban_fr(random.Random("sc-ligue")))
    sc.enregistrer_agrement(session, actor=siege, organisme_id=mairie.id, numero="NA-059-22-00044-00",
                            associatif=False, iban=None)
    _partenaire(session, "accueil", ligue, "Élise", "Accueil")
    _partenaire(session, "accueil2", mairie, "Thomas", "Mairie")
    # (host, start, months, social increase, IBAN): the 4th volunteer is paid in Belgium (SEPA, R76)
    J = H.jour
    plan = [(ligue, J(2024, 11, 15), 8, False, None), (ligue, J(2025, 1, 1), 6, True, None),
            (ligue, J(2025, 2, 1), 10, False, None), (ligue, J(2025, 3, 15), 9, True, "BE68539007547034"),
            (mairie, J(2025, 1, 1), 12, False, None), (mairie, J(2024, 10, 1), 7, True, None)]
    contrats = []
    for k, (org, debut, mois, majoration, iban) in enumerate(plan):
        from backoffice.rules.service_civique import _ajouter_mois
        fin = _ajouter_mois(debut, mois) - timedelta(days=1)
        contrats.append(sc.creer_contrat(
            session, actor=siege, organisme_id=org.id, numero=f"SC-059-{debut.year}-{k + 1:05d}",
            nom=fake.last_name(), prenom=fake.first_name(), naissance=H.jour(2001 + k, 1 + k, 10), debut=debut,
            fin=fin, majoration_sociale=majoration, iban=iban or iban_fr(random.Random(f"volontaire-{k}")),
            now=datetime.combine(debut, datetime.min.time()) - timedelta(days=10)))
    # the mission of the 6th ended in April: closed by the siège
    run(session, sc.CONTRAT, "terminer", Selection.of_ids([contrats[5].id]), siege, now=H.moment(2025, 5, 2, 9))
    for m in range(1, 6):  # the five months before (January to May 2025 in the reference): computed, liquidated
        periode = H.jour(2025, m, 1)
        now = H.moment(2025, m, 24, 10)
        calcul = sc.calculer_mois(session, actor=siege, periode=periode, now=now)
        run(session, sc.MOIS, "liquider", Selection.of_ids(calcul.ids), comptable, now=now + timedelta(hours=1))
        for lot_id in session.execute(sa.select(sa.distinct(Paiement.lot_id)).join(
                Echeance, Echeance.id == Paiement.echeance_id).join(LotPaiement, LotPaiement.id == Paiement.lot_id)
                .where(Echeance.source_id.in_(calcul.ids), LotPaiement.statut == LotStatut.PREPAREE)).scalars():
            emettre_lot(session, lot_id, now=now + timedelta(days=6), actor=comptable)
    sc.calculer_mois(session, actor=siege, periode=H.jour(2025, 6, 1), now=t0)  # this month: to liquidate
    for c in contrats[:5]:  # a mission that ended before today (loaded in the first days of a month) is closed
        if c.date_fin < t0.date():
            run(session, sc.CONTRAT, "terminer", Selection.of_ids([c.id]), siege,
                now=min(t0 - timedelta(minutes=25), datetime.combine(c.date_fin + timedelta(days=1), datetime.min.time())
                        + timedelta(hours=9)))
    H.a(t0 - timedelta(minutes=20))
    sc.deposer_piece(session, actor=session.scalars(sa.select(Compte).where(Compte.login == "accueil")).one(),
                     contrat_id=contrats[0].id, contenu=PDF_AVIS_CSE.replace(b"Avis du CSE", b"Attestation"),
                     nom_fichier="attestation-presence.pdf",
                     objet=f"Attestation de présence de {_MOIS[H.jour(2025, 5, 1).month - 1]} {H.jour(2025, 5, 1).year}")
    session.flush()
    n_mois = session.execute(sa.select(sa.func.count()).select_from(MoisServiceCivique)).scalar_one()
    liquides = session.execute(sa.select(sa.func.count()).select_from(MoisServiceCivique).where(
        MoisServiceCivique.statut == MoisProgrammeStatut.LIQUIDE)).scalar_one()
    return {"contrats de service civique": len(contrats), "mois de service civique": n_mois,
            "mois de service civique payés": liquides}


def _esat(session, rng, fake) -> dict[str, int]:
    """Issue 16 (R53, R54): three ESATs (two in Hauts-de-France, the ARS agent's région; one in Normandie) and two
    EAs, each with its account and its extranet user; monthly GRTH declarations filed by the ESAT, validated and
    liquidated by the ASP; the 2025 DGF set by the ARS, its instalments due paid; the EAs' declarations, one of
    them under 80 % handicapped workers, refused (R54)."""
    from backoffice.models import DeclarationEA, DeclarationGarantie, LotPaiement, Paiement, VersementDGF
    from backoffice.models.enums import LotStatut
    from backoffice.workflows import Selection
    from backoffice.workflows import esat as _esat_wf, paiements, run as _run
    wf, run, emettre_lot = H.Module(_esat_wf), H.horloger(_run), H.Module(paiements).emettre_lot
    H.a(H.moment(2024, 11, 1, 9))  # the agréments, before the DGF
    siege = session.scalars(sa.select(Compte).where(Compte.login == "siege")).one()
    comptable = session.scalars(sa.select(Compte).where(Compte.login == "comptable")).one()
    ars = session.scalars(sa.select(Compte).where(Compte.login == "ars")).first()
    admin = session.scalars(sa.select(Compte).where(Compte.login == "admin")).one()
    esats = []
    for k, (ville, cp) in enumerate((("Lille", "59000"), ("Amiens", "80000"), ("Rouen", "76000"))):
        s = _structure(session, f"ESAT-{k + 1:02d}", f"ESAT Les Ateliers de {ville}", TypeStructure.ESAT, rng, ville=ville)
        s.code_postal = cp
        wf.enregistrer_agrement(session, actor=siege, structure_id=s.id, numero=f"{cp[:2]}0{k + 1:06d}",
                                places=60 + 20 * k, iban=iban_fr(random.Random(f"esat-{k}")))
        esats.append(s)
    eas = []
    for k, ville in enumerate(("Roubaix", "Valenciennes")):
        s = _structure(session, f"EA-{k + 1:02d}", f"Entreprise adaptée {fake.company()}"[:120], TypeStructure.EA, rng,
                       ville=ville)
        wf.enregistrer_agrement(session, actor=siege, structure_id=s.id, numero=f"EA-59-{k + 1:04d}", places=0,
                                iban=iban_fr(random.Random(f"ea-{k}")))
        eas.append(s)
    u_esat = _partenaire(session, "esat", esats[0], "Estelle", "ESAT Lille")
    u_esat2 = _partenaire(session, "esat2", esats[1], "Paul", "ESAT Amiens")
    u_ea = _partenaire(session, "ea", eas[0], "Emma", "EA Roubaix")
    u_ea2 = _partenaire(session, "ea2", eas[1], "Hugo", "EA Valenciennes")
    # the DGF of each year the declared months fall in (one in the reference), set on 15 December before it
    exercices = sorted({H.jour(2025, m, 1).year for m in range(1, 6)})
    for exercice in exercices:
        for e, fixer_par in zip(esats, (ars, ars, admin)):  # the ARS sets its région's; the admin the other one
            wf.fixer_dgf(session, actor=fixer_par, esat_id=e.id, exercice=exercice, montant=Decimal(rng.choice(
                [480_000, 612_000, 750_000])), now=datetime(exercice - 1, 12, 15, 10))
    users = {esats[0].id: u_esat, esats[1].id: u_esat2}
    for m in range(1, 6):
        now = H.moment(2025, m, 25, 10)
        periode = H.jour(2025, m, 1)
        g_ids = []
        for e in esats[:2]:
            etp = Decimal(rng.randrange(40, 70))
            d = wf.deposer_garantie(session, actor=users[e.id], esat_id=e.id, periode=periode,
                                    nb_travailleurs=int(etp) + 5, etp=etp,
                                    cotisations_obligatoires=(etp * Decimal("95.40")).quantize(Decimal("0.01")),
                                    prevoyance=Decimal("180.00"), formation=Decimal("95.00") if m % 2 else Decimal("0"),
                                    now=now)
            g_ids.append(d.id)
        ea_ids = [wf.deposer_ea(session, actor=u_ea, ea_id=eas[0].id, periode=periode, effectif_total=25,
                                effectif_th=22, postes_etp=Decimal("20.5"), now=now).id]
        if m == 3:  # R54: 15 handicapped workers out of 20 (75 %): the validation refuses it, then the ASP refuses
            low = wf.deposer_ea(session, actor=u_ea2, ea_id=eas[1].id, periode=periode, effectif_total=20,
                                effectif_th=15, postes_etp=Decimal("12"), now=now)
            run(session, wf.EA, "valider", Selection.of_ids([low.id]), siege, now=now + timedelta(days=2))
            run(session, wf.EA, "refuser", Selection.of_ids([low.id]), siege, now=now + timedelta(days=2),
                params={"motif": "Moins de 80 % de travailleurs handicapés dans l'effectif déclaré (R54)."})
        if m == 5:
            continue  # May: filed, to validate and liquidate in the grids
        run(session, wf.GARANTIE, "valider", Selection.of_ids(g_ids), siege, now=now + timedelta(days=2))
        run(session, wf.EA, "valider", Selection.of_ids(ea_ids), siege, now=now + timedelta(days=2))
        run(session, wf.GARANTIE, "liquider", Selection.of_ids(g_ids), comptable, now=now + timedelta(days=3))
        run(session, wf.EA, "liquider", Selection.of_ids(ea_ids), comptable, now=now + timedelta(days=3))
        dgf = session.execute(sa.select(VersementDGF.id).where(VersementDGF.periode == periode)).scalars().all()
        run(session, wf.VERSEMENT_DGF, "liquider", Selection.of_ids(dgf), comptable, now=now + timedelta(days=3))
        for lot_id in session.execute(sa.select(LotPaiement.id).where(LotPaiement.statut == LotStatut.PREPAREE,
                                                                      LotPaiement.dispositif.has(code="ESAT"))
                                      .union(sa.select(LotPaiement.id).where(
                                          LotPaiement.statut == LotStatut.PREPAREE,
                                          LotPaiement.dispositif.has(code="EA")))).scalars().all():
            emettre_lot(session, lot_id, now=now + timedelta(days=4), actor=comptable)
    session.flush()
    return {"ESAT et entreprises adaptées": len(esats) + len(eas),
            "déclarations de garantie (GRTH)": session.execute(sa.select(sa.func.count()).select_from(
                DeclarationGarantie)).scalar_one(),
            "déclarations d'aide au poste (EA)": session.execute(sa.select(sa.func.count()).select_from(
                DeclarationEA)).scalar_one()}
