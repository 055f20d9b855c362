"""The demo: a Mission Locale (siège + three antennes) whose records walk through the real workflows.

Deterministic for a given seed and `today` (random.Random and Faker seeded; every date relative to `today`, the
real today by default, seeds/horloge.py), so the audit trail, the refusals and the reversements in the grids are
those the application itself wrote, on the day they would have been (the clock moved, backoffice.clock.deplacee).
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from faker import Faker

from backoffice import clock
from backoffice.models import (Allocation, Beneficiaire, Cerfa, Compte, CompteBancaire, DemandeHorsDelai,
                               Inscription, LotPaiement, MailOutbox, Paiement)
from backoffice.models.enums import (AllocationStatut as AS, CerfaType, InscriptionStatut, LotStatut,
                                     ProtectionJuridique, Role, TrancheFiscale)
from backoffice.passwords import hash_password
from backoffice.workflows import Selection
from backoffice.workflows import run as _run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.cerfa import CERFA
from backoffice.workflows.errors import WorkflowError
from backoffice.workflows.hors_delai import HORS_DELAI
from backoffice.workflows.parcours import PARCOURS
from backoffice.workflows.reversements import REVERSEMENT
from backoffice.workflows.reversements import enregistrer_remboursement as _enregistrer_remboursement
from backoffice.workflows.saisie import corriger_allocation
from backoffice.workflows.saisie import enregistrer_allocation as _enregistrer_allocation

from . import horloge as H
from .comptes import load_demo_accounts
from .identites import iban_fr
from .referentiel import load_catalogue, load_structures

# the demo's « today » and « now », set by load() from its `today` (seeds/horloge.py); these are the reference's
AUJOURDHUI = H.REFERENCE
T0 = datetime.combine(H.REFERENCE, H.HEURE)
NAISSANCE_MIN = (H.REFERENCE - date(2000, 1, 1)).days  # the youths are 16 to 25 on the demo's today (R9, R10)
run = H.horloger(_run)
enregistrer_allocation = H.horloger(_enregistrer_allocation)
enregistrer_remboursement = H.horloger(_enregistrer_remboursement)
ANTENNES = ["ML-ANT-NORD", "ML-ANT-SUD", "ML-ANT-EST"]


def normalise(nom: str, prenom: str) -> str:
    text = f"{nom} {prenom}".upper()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _months(start: date, end: date) -> list[date]:
    out, d = [], start.replace(day=1)
    while d <= end:
        out.append(d)
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return out


def _au_plus_tard(moment: datetime, marge: int = 0) -> datetime:
    """`moment`, or the demo's « now » (less `marge` minutes) when it has not come yet: nothing in the future."""
    return min(moment, T0 - timedelta(minutes=marge))


def _verrouiller(session, compte) -> None:
    """R68: three wrong passwords a quarter of an hour ago, through the login itself: locked, within its window."""
    from backoffice.workflows.comptes import authenticate
    for minutes in (14, 13, 12):
        authenticate(session, compte.login, "mot-de-passe-errone", now=H.a(T0 - timedelta(minutes=minutes)))
    session.flush()


def _envoi(mois: date) -> datetime:
    """The 1st of the month after `mois`, 9:00 (never after the demo's today): when its allocation went."""
    return min(T0, datetime(mois.year + mois.month // 12, mois.month % 12 + 1, 1, 9, 0))


def _beneficiaires(session, rng, fake, structures, n) -> list[Beneficiaire]:
    rows = []
    for k in range(n):
        nom, prenom = fake.last_name(), fake.first_name()
        eee = rng.random() > 0.08
        protection = ProtectionJuridique.CURATELLE if rng.random() < 0.03 else ProtectionJuridique.AUCUNE
        naissance = AUJOURDHUI - timedelta(days=NAISSANCE_MIN) + timedelta(days=rng.randrange(0, 365 * 9))
        micro = rng.random() < 0.05
        b = Beneficiaire(
            identifiant_imilo=f"IM{1_000_000 + k:08d}", nom=nom, prenom=prenom, nom_recherche=normalise(nom, prenom),
            date_naissance=naissance, email=f"{normalise(prenom, '').strip().lower().replace(' ', '-')}.{k}@exemple.fr",
            telephone=f"06{rng.randrange(10**8):08d}", adresse=fake.street_address()[:200],
            code_postal=f"59{rng.randrange(1000):03d}", ville=rng.choice(["Lille", "Roubaix", "Tourcoing",
                                                                        "Villeneuve-d'Ascq", "Lomme", "Wattrelos"]),
            antenne_id=structures[ANTENNES[k % 3]].id, ressortissant_eee=eee,
            numero_agdref=None if eee else f"{rng.randrange(10**9, 10**10)}",
            date_fin_titre_sejour=None if eee else AUJOURDHUI + timedelta(days=rng.randrange(60, 900)),
            inscrit_france_travail=rng.random() < 0.93, qpv=rng.random() < 0.2, rqth=rng.random() < 0.03,
            tranche_fiscale=TrancheFiscale.TRANCHE_1 if rng.random() < 0.15 else TrancheFiscale.NON_IMPOSABLE,
            protection_juridique=protection,
            reference_jugement=f"TJ Lille RG {rng.randrange(10000, 99999)}/25" if protection != ProtectionJuridique.AUCUNE else None,
            micro_entrepreneur=micro, activite_micro=rng.choice(["bic_services", "bnc", "achat_revente"]) if micro else None,
            date_immatriculation_micro=AUJOURDHUI - timedelta(days=rng.randrange(30, 700)) if micro else None)
        rows.append(b)
    session.add_all(rows)
    session.flush()
    return rows


def _rib(rng, b, max_len) -> CompteBancaire:
    titulaire = f"{b.prenom} {b.nom}".upper()
    if b.protection_juridique == ProtectionJuridique.CURATELLE:
        titulaire = f"{titulaire} CURATELLE UDAF"  # R38: full account title under curatelle
    return CompteBancaire(beneficiaire_id=b.id, iban=iban_fr(rng), bic=None, titulaire=titulaire[:max_len])


def load(session, seed: int = 2026, today: date | None = None) -> dict[str, int]:
    """The demo as of `today` (default: the real today, backoffice.clock): its history written with the clock
    moved to each moment (created_at, updated_at and the audit are those of the day things happened)."""
    global AUJOURDHUI, T0
    ancre = H.fixer(today)
    AUJOURDHUI, T0 = ancre.today, ancre.t0
    # the history starts with the reference data, before the earliest event of any programme
    with clock.deplacee(H.moment(2022, 9, 1, 8, pas=12)):
        return _load(session, seed)


def _load(session, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    structures = load_structures(session)
    catalogue = load_catalogue(session)
    comptes = load_demo_accounts(session, structures)
    # a third antenne's conseiller, locked by three wrong passwords (the support desk's daily case, R68)
    verrou = Compte(login="conseiller3", role=Role.CONSEILLER, prenom="Inès", nom="Verrouillée",
                    email="conseiller3@ml-metropole.example.fr", structure_id=structures["ML-ANT-EST"].id,
                    password_hash=comptes["admin"].password_hash, must_change_password=False)
    session.add(verrou)
    session.flush()
    conseiller_of = {structures["ML-ANT-NORD"].id: comptes["conseiller"], structures["ML-ANT-SUD"].id: comptes["conseiller2"],
                     structures["ML-ANT-EST"].id: verrou}
    siege, manager, comptable = comptes["siege"], comptes["manager"], comptes["comptable"]

    _verrouiller(session, verrou)
    H.a_jour(AUJOURDHUI - timedelta(days=310), 8)  # the youths known to the Mission Locale before their path
    youths = _beneficiaires(session, rng, fake, structures, 300)
    inscriptions, cerfas = [], []
    other_codes = ["DIAG", "RE", "PARRAINAGE", "QPV", "PAO", "AVENIR_PRO", "DECLIC"]
    for k, b in enumerate(youths):
        r = rng.random()
        code = "CEJ" if r < 0.55 else "PACEA" if r < 0.85 else rng.choice(other_codes)
        d = catalogue[code]
        debut = AUJOURDHUI - timedelta(days=rng.randrange(20, 300))
        fin = debut + timedelta(days=30 * (d.duree_max_mois or 6))
        insc = Inscription(numero=f"P{2025_000_000 + k}", beneficiaire_id=b.id, dispositif_id=d.id,
                           antenne_id=b.antenne_id, referent_id=conseiller_of[b.antenne_id].id, date_debut=debut,
                           date_fin_prevue=fin, pilote=d.pilote_code, prescripteur="France Travail" if rng.random() < .3 else None)
        if code == "PARRAINAGE":  # R8: it starts after the joint acceptance of the youth and the mentor
            insc.parrain = ("Michel Lefebvre", "Anne Dubois", "Karim Benali")[k % 3]
            insc.date_acceptation_parrainage = debut - timedelta(days=3)
        elif code == "AVENIR_PRO":  # R11: a final-year vocational student, no further study planned
            insc.eligibilite_attestee = True
        cloture = None
        if code not in ("CEJ", "PACEA") and rng.random() < 0.3:  # some closed paths, with their exit reason
            fin_reelle = min(AUJOURDHUI, debut + timedelta(days=rng.randrange(10, 80)))
            cloture = (rng.choice(d.motifs_sortie), fin_reelle)
        H.a_jour(debut - timedelta(days=3))  # entered by the conseiller before it starts
        session.add(insc)
        session.flush()
        if code == "PARRAINAGE":  # R8: validated with 2 professional parrainage actions at least
            for jours in (1, 8):
                run(session, PARCOURS, "action", Selection.of_ids([insc.id]), conseiller_of[b.antenne_id],
                    params={"nature": "parrainage", "domaine": "professionnel", "date_action": debut + timedelta(days=jours),
                            "libelle": "Rencontre avec le parrain : préparation d'entretien d'embauche"},
                    now=_au_plus_tard(datetime.combine(debut + timedelta(days=jours), H.HEURE).replace(hour=17)))
        if cloture is not None:  # through the close transition (R2, R3: the reason's positive-exit flag)
            run(session, PARCOURS, "cloturer", Selection.of_ids([insc.id]), conseiller_of[b.antenne_id],
                params={"motif_sortie_id": cloture[0].id, "date_fin": cloture[1]},
                now=_au_plus_tard(datetime.combine(cloture[1], H.HEURE).replace(hour=17)))
        inscriptions.append((insc, code))
        if code in ("CEJ", "PACEA"):
            H.a_jour(debut)  # the cerfa is signed on the first day
            cb = _rib(rng, b, d.longueur_max_titulaire or 49)
            session.add(cb)
            session.flush()
            c = Cerfa(numero=f"CERFA-{code}-{k:05d}", inscription_id=insc.id, antenne_id=insc.antenne_id,
                      type_version=CerfaType.RENOUVELLEMENT if rng.random() < 0.08 else CerfaType.INITIAL,
                      date_signature=debut, compte_bancaire_id=cb.id, titulaire_rib=cb.titulaire, rib_imprime=True,
                      montant_prevu=Decimal("561.68") if code == "CEJ" else Decimal("300.00"),
                      duree_prevue_mois=12 if code == "CEJ" else 24)
            session.add(c)
            session.flush()
            cerfas.append((c, insc, b))
    session.flush()

    # allocations for each month since the start, amounts from the rules (R21-R34); some youths
    # missed a month, which their conseiller later asks for as a hors-délai (R48)
    missed = []
    for n, (c, insc, b) in enumerate(cerfas):
        months_of = _months(insc.date_debut, AUJOURDHUI - timedelta(days=20))
        for mois in months_of:
            if n % 15 == 0 and len(months_of) > 3 and mois == months_of[1]:
                missed.append((c, insc, mois))
                continue
            salaire = rng.choice([None, None, None, Decimal("250.00"), Decimal("600.00"), Decimal("950.00")])
            lignes = [("Salaire", salaire)] if salaire else []
            try:  # recorded in time: on the 1st of the next month at the latest (R35/R48)
                enregistrer_allocation(session, inscription_id=insc.id, mois=mois, lignes=lignes,
                                       actor=conseiller_of[insc.antenne_id], now=_envoi(mois))
            except WorkflowError:  # e.g. a youth outside the CEJ age limits gets no allowance
                break
    session.commit()

    # cerfa: received, validated by the siège (which validates the entry allocation, R40), sent, accepted
    def by_antenne(ids):
        groups = {}
        for cid, ant in ids:
            groups.setdefault(ant, []).append(cid)
        return groups

    all_c = [(c.id, c.antenne_id) for c, _, _ in cerfas]
    rng.shuffle(all_c)
    # each cerfa goes through on the 1st of the month after its signature, the day its entry allocation is
    # recorded (R40: validating the cerfa validates it): received, validated, sent, answered by the payer
    mois_de = {c.id: c.date_signature.replace(day=1) for c, _, _ in cerfas}

    def par_mois(ids):
        groups = {}
        for cid in ids:
            groups.setdefault(mois_de[cid], []).append(cid)
        return sorted(groups.items())

    def le(mois, h, mi, marge):
        return _au_plus_tard(_envoi(mois).replace(hour=h, minute=mi), marge)

    received = all_c[: int(len(all_c) * 0.9)]
    for mois, ids in par_mois([cid for cid, _ in received]):
        ant_of = dict(received)
        for ant, group in by_antenne([(cid, ant_of[cid]) for cid in ids]).items():
            run(session, CERFA, "recevoir", Selection.of_ids(group), conseiller_of[ant], now=le(mois, 9, 30, 50))
    validated = [cid for cid, _ in received[: int(len(all_c) * 0.78)]]
    for mois, ids in par_mois(validated):
        run(session, CERFA, "valider", Selection.of_ids(ids), siege, now=le(mois, 10, 0, 45))
    refused = [cid for cid, _ in received[int(len(all_c) * 0.78): int(len(all_c) * 0.82)]]
    for mois, ids in par_mois(refused):
        run(session, CERFA, "refuser", Selection.of_ids(ids), siege,
            params={"motif_refus": "RIB illisible : fournir un nouveau RIB"}, now=le(mois, 10, 0, 45))
    sent = validated[: int(len(validated) * 0.85)]
    for mois, ids in par_mois(sent):
        run(session, CERFA, "transmettre", Selection.of_ids(ids), siege, now=le(mois, 11, 0, 40))
    accepted, refused_payer = set(sent[: int(len(sent) * 0.9)]), set(sent[int(len(sent) * 0.95):])
    for mois, ids in par_mois(sent):
        if [i for i in ids if i in accepted]:
            run(session, CERFA, "accepter_payeur", Selection.of_ids([i for i in ids if i in accepted]), comptable,
                now=le(mois, 14, 0, 35))
        if [i for i in ids if i in refused_payer]:
            run(session, CERFA, "refuser_payeur", Selection.of_ids([i for i in ids if i in refused_payer]),
                comptable, params={"motif_refus": "Titulaire du RIB différent du jeune"}, now=le(mois, 14, 0, 35))
    session.commit()

    # allocations, month by month (R43: the next one waits for the previous validation)
    months = sorted({m for (m,) in session.execute(sa.select(Allocation.mois).distinct())})
    for i, mois in enumerate(months):
        last = i >= len(months) - 2
        ids = session.execute(sa.select(Allocation.id, Allocation.antenne_id).where(Allocation.mois == mois)).all()
        for ant, group in by_antenne([(a, ant) for a, ant in ids]).items():
            run(session, ALLOCATION, "soumettre", Selection.of_ids(group), conseiller_of[ant], now=_envoi(mois))
        submitted = [a for (a,) in session.execute(sa.select(Allocation.id).where(
            Allocation.mois == mois, Allocation.statut == AS.SOUMISE))]
        keep = submitted[: len(submitted) // 2] if last else submitted[: int(len(submitted) * 0.97)]
        decision = _au_plus_tard(_envoi(mois) + timedelta(days=3))  # the siège's check, a few days later
        run(session, ALLOCATION, "valider", Selection.of_ids(keep), siege, now=decision)
        if len(submitted) > 3:
            run(session, ALLOCATION, "refuser", Selection.of_ids(submitted[-2:]), siege,
                params={"motif_refus": "Justificatif de ressources manquant"}, now=decision)
    session.commit()

    lots = _pay(session, rng, comptable, months)
    corrections = _corrections(session, rng, comptes, conseiller_of)
    hors_delai = _hors_delai(session, rng, missed, conseiller_of, manager)
    H.a(T0)
    _mails(session, rng)
    from .programmes import load_partenaires_et_programmes
    autres = load_partenaires_et_programmes(session, rng, fake, structures)
    lots += _payer_activite_partielle(session, rng, comptable)
    from .comptes import secrets_des_partenaires
    secrets_des_partenaires(session)
    session.commit()
    counts = {
        "bénéficiaires": len(youths), "parcours": len(inscriptions), "cerfa": len(cerfas),
        "allocations": session.execute(sa.select(sa.func.count()).select_from(Allocation)).scalar_one(),
        "lots de paiement": lots, "corrections": corrections, "demandes hors délai": hors_delai,
    }
    counts.update(autres)
    return counts


def _pay(session, rng, comptable, months) -> int:
    """Validated allocations of past months went out in SEPA batches through the workflows (issue 13): the siège's
    « Envoyer en paiement » the day before each R41 date (their payables and payments, in the batch of their
    dispositif and date), the emission of each batch (payer's controls, pain.001 validated by the XSD), then the
    bank's execution confirmed for the older ones."""
    from backoffice.models import Dispositif
    from backoffice.rules.calendrier import prochaine_date_envoi
    from backoffice.workflows import paiements
    pw = H.Module(paiements)
    emettre_lot, rapprocher_lot = pw.emettre_lot, pw.rapprocher_lot
    siege = session.execute(sa.select(Compte).where(Compte.login == "siege")).scalar_one()
    codes = dict(session.execute(sa.select(Dispositif.id, Dispositif.code)).all())
    rows = session.execute(
        sa.select(Allocation.id, Allocation.mois, Allocation.dispositif_id)
        .where(Allocation.statut == AS.VALIDEE_SIEGE, Allocation.mois <= months[-2], Allocation.montant > 0)
        .order_by(Allocation.id)).all()
    sends: dict = {}
    for r in rows:  # R41: the next send after the siège's validation (3 days after the month's entry)
        valide = (_envoi(r.mois) + timedelta(days=3)).date()
        execution = prochaine_date_envoi(codes[r.dispositif_id], valide)
        if datetime.combine(execution - timedelta(days=1), datetime.min.time()).replace(hour=16) > T0:
            continue  # its send has not come yet: validated, waiting in the grid
        sends.setdefault(execution, []).append(r.id)
    lots = 0
    for execution, ids in sorted(sends.items()):
        sent_at = datetime.combine(execution - timedelta(days=1), datetime.min.time()).replace(hour=10)
        run(session, ALLOCATION, "transmettre", Selection.of_ids(ids), siege, now=H.a(sent_at))
        lot_ids = session.execute(sa.select(LotPaiement.id).where(
            LotPaiement.date_execution == execution, LotPaiement.statut == LotStatut.PREPAREE)).scalars().all()
        for lot_id in lot_ids:
            emettre_lot(session, lot_id, now=sent_at + timedelta(hours=6), actor=comptable)
            if execution < AUJOURDHUI - timedelta(days=50):
                rapprocher_lot(session, lot_id, actor=comptable, now=datetime.combine(execution, datetime.min.time()))
            lots += 1
        session.commit()
    return lots


def _payer_activite_partielle(session, rng, comptable) -> int:
    """Issue 13's proof that any source is paid: the Activité partielle claims sent to the unit (UD) are validated
    through the AP workflow (seeds/programmes.py created them so), which makes each a payable of its establishment
    (workflows/activite_partielle._creer_echeance_di, the establishment's IBAN); they are paid in the AP programme's
    own batch."""
    from backoffice.models import AutorisationAP, DemandeIndemnisation, Echeance
    from backoffice.models.enums import DIStatut, EcheanceStatut, SourceEcheance
    from backoffice.workflows import activite_partielle as ap
    from backoffice.workflows.echeances import ECHEANCE
    from backoffice.workflows import paiements
    emettre_lot = H.Module(paiements).emettre_lot
    di_ids = session.execute(sa.select(DemandeIndemnisation.id).join(AutorisationAP)
                             .where(DemandeIndemnisation.statut == DIStatut.ENVOYEE).order_by(DemandeIndemnisation.id)
                             ).scalars().all()
    now = T0 - timedelta(days=3)
    ud = session.scalars(sa.select(Compte).where(Compte.login == "ud")).first()
    if len(di_ids) > 1 and ud is not None:  # the last sent one waits for the UD in the grid
        run(session, ap.DI, "valider", Selection.of_ids(di_ids[:-1]), ud, now=now - timedelta(hours=1))
    ids = session.execute(sa.select(Echeance.id).where(Echeance.source_type == SourceEcheance.DI_ACTIVITE_PARTIELLE,
                                                       Echeance.statut == EcheanceStatut.A_PAYER)
                          .order_by(Echeance.id)).scalars().all()
    if not ids:
        return 0
    en_lot = ids[: max(1, len(ids) - 1)]  # the last one stays « à payer » in the grid
    run(session, ECHEANCE, "mettre_en_lot", Selection.of_ids(en_lot), comptable, now=now)
    lot_ids = session.execute(sa.select(sa.distinct(Paiement.lot_id)).join(Echeance, Echeance.id == Paiement.echeance_id)
                              .where(Echeance.id.in_(en_lot), Echeance.statut == EcheanceStatut.EN_LOT)).scalars().all()
    for lot_id in lot_ids:
        emettre_lot(session, lot_id, now=now + timedelta(hours=2), actor=comptable)
    session.commit()
    return len(lot_ids)


def _corrections(session, rng, comptes, conseiller_of) -> int:
    """R46/R47: undeclared pay found after payment → a corrective version, a trop-perçu, a reversement."""
    paid = session.execute(sa.select(Allocation).where(Allocation.statut == AS.VERSEE, Allocation.montant > 400)
                           .order_by(Allocation.id).limit(8)).scalars().all()
    done = 0
    quand = T0 - timedelta(days=10)  # undeclared pay found ten days ago
    for k, a in enumerate(paid):
        conseiller = conseiller_of[a.antenne_id]
        try:
            H.a(quand)
            new = corriger_allocation(session, a.id, lignes=[("Salaire", Decimal("800.00"))] if k % 4 else [],
                                      ressources_differentielles=Decimal("0") if k % 4 else a.montant,
                                      actor=conseiller)
            session.commit()
            run(session, ALLOCATION, "soumettre", Selection.of_ids([new.id]), conseiller, now=quand + timedelta(hours=1))
            run(session, ALLOCATION, "valider", Selection.of_ids([new.id]), comptes["siege"],
                now=quand + timedelta(days=1))
            if k < 6:
                run(session, ALLOCATION, "emettre_reversement", Selection.of_ids([new.id]), comptes["comptable"],
                    now=quand + timedelta(days=1, hours=2))
            session.commit()
            done += 1
        except WorkflowError:
            session.rollback()
    from backoffice.models import Reversement
    revs = session.execute(sa.select(Reversement).order_by(Reversement.id)).scalars().all()
    run(session, REVERSEMENT, "notifier", Selection.of_ids([r.id for r in revs[:5]]), comptes["comptable"],
        now=T0 - timedelta(days=8))
    session.commit()
    for k, r in enumerate(revs[:3]):
        montant = r.montant if k == 0 else (r.montant / 2).quantize(Decimal("0.01"))
        enregistrer_remboursement(session, r.id, montant=montant, date_reception=AUJOURDHUI - timedelta(days=3),
                                  mode="virement", reference=f"VIR-{r.numero}", actor=comptes["comptable"],
                                  now=T0 - timedelta(minutes=60 - k))
        session.commit()
    return done


def _hors_delai(session, rng, missed, conseiller_of, manager) -> int:
    """R48: missed months requested by conseillers; the manager approves or refuses (never their own)."""
    ids = []
    H.a(T0 - timedelta(days=6))  # asked last week
    for c, insc, mois in missed[:8]:
        d = DemandeHorsDelai(inscription_id=insc.id, antenne_id=insc.antenne_id, mois=mois,
                             montant_demande=Decimal("561.68") if c.numero.startswith("CERFA-CEJ") else Decimal("300.00"),
                             motif="Mois non demandé à temps : justificatifs reçus en retard",
                             demandeur_id=conseiller_of[insc.antenne_id].id)
        session.add(d)
        session.flush()
        ids.append(d.id)
    session.commit()
    run(session, HORS_DELAI, "approuver", Selection.of_ids(ids[:3]), manager, now=T0 - timedelta(days=2))
    run(session, HORS_DELAI, "refuser", Selection.of_ids(ids[3:5]), manager,
        params={"motif_refus": "Délai de forclusion de 3 mois dépassé (R36)"}, now=T0 - timedelta(days=2))
    session.commit()
    return len(ids)


class _BoitesRefusantes:
    """aiosmtpd handler for the load: accepts every mail but those to the addresses in `refus` (451 at RCPT, as a
    full mailbox answers)."""

    def __init__(self, refus: set[str]):
        self.refus = refus

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd's hooks
        if address in self.refus:
            return "451 4.2.1 Boîte du destinataire indisponible"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 Message accepted for delivery"


def _mails(session, rng) -> None:
    """The mail outbox's history, delivered as the worker delivers it (workflows.distribution_mail, the mail job's work: its retries and
    back-off) to an SMTP server started for the load on 127.0.0.1, with the clock moved (issue 19: no status written
    into the table). The mails of the recipients of one mail in five written before the first round are refused by
    their mailbox: five attempts over an hour and a quarter, then « échec » (the grid's « renvoyer » has work); the
    mails written after the last round stay « en file »."""
    import socket

    from aiosmtpd.controller import Controller
    from flask import current_app

    from backoffice.workflows.distribution_mail import BACKOFF, MAX_TENTATIVES, distribuer
    debut = T0 - timedelta(hours=3)
    anciens = session.execute(sa.select(MailOutbox.destinataire).where(MailOutbox.created_at <= debut)
                              .order_by(MailOutbox.id)).scalars().all()
    refus = {d for k, d in enumerate(anciens) if k % 5 == 0}
    session.commit()
    controller = None
    for _ in range(5):  # a free loopback port (taken between the probe and the bind: another)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(_BoitesRefusantes(refus), hostname="127.0.0.1", port=port)
        try:
            controller.start()
            break
        except (OSError, RuntimeError):
            controller = None
    if controller is None:
        raise RuntimeError("serveur SMTP du chargement de la démo : aucun port libre")
    cles = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USERNAME")
    avant = {k: current_app.config.get(k) for k in cles}
    current_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME=None)
    try:
        moment = debut
        for pause in [timedelta(0)] + BACKOFF[:MAX_TENTATIVES - 1]:  # each retry once its back-off has passed
            moment += pause + timedelta(seconds=1)
            H.a(moment)
            distribuer()
    finally:
        current_app.config.update(avant)
        controller.stop()
        H.a(T0)
    session.commit()
