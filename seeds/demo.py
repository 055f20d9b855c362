"""The demo: a Mission Locale (siège + three antennes) whose records walk through the real workflows.

Deterministic for a given seed and "today" (random.Random and Faker seeded), so the audit trail, the refusals and
the reversements in the grids are those the application itself wrote. The demo's "today" is the application's
clock (backoffice.clock) unless given: every record is dated relative to it, and written with the clock moved to
the moment it happens in the demo's history (clock.deplacee: « Créé le », « Validée le », the audit trail and the
batches' dates follow each other), so a demo loaded any day tells a coherent story — a cerfa received the day
after its path began, an allocation recorded, submitted and validated the 1st of the month after its month and
paid at the next R41 date, a batch « Rapproché » a few days after its execution date, a lock that ends after
"today".
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from faker import Faker

from backoffice.clock import deplacee
from backoffice.clock import now as horloge
from backoffice.models import (Allocation, Beneficiaire, Cerfa, Compte, CompteBancaire, DemandeHorsDelai,
                               Inscription, LotPaiement, MailOutbox, Paiement)
from backoffice.models.enums import (AllocationStatut as AS, CerfaType, CompteStatut, InscriptionStatut, LotStatut,
                                     MailStatut, ProtectionJuridique, Role, TrancheFiscale)
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.cerfa import CERFA
from backoffice.workflows.errors import WorkflowError
from backoffice.workflows.hors_delai import HORS_DELAI
from backoffice.workflows.parcours import PARCOURS
from backoffice.workflows.reversements import REVERSEMENT, enregistrer_remboursement
from backoffice.workflows.saisie import corriger_allocation, enregistrer_allocation

from .comptes import load_demo_accounts
from .identites import iban_fr
from .referentiel import load_catalogue, load_structures

ANTENNES = ["ML-ANT-NORD", "ML-ANT-SUD", "ML-ANT-EST"]


def normalise(nom: str, prenom: str) -> str:
    text = f"{nom} {prenom}".upper()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def demo_t0(today: date | None = None) -> datetime:
    """The demo's "now": the application's clock (to the minute), or 9:00 on the `today` given."""
    if today is None:
        return horloge().replace(second=0, microsecond=0)
    return datetime.combine(today, time(9, 0))


def _suivant(mois: date) -> date:
    return date(mois.year + mois.month // 12, mois.month % 12 + 1, 1)


def _envoi(mois: date) -> datetime:
    """The 1st of the month after `mois`, 9:00: when its allocation was recorded and submitted (R35: in time)."""
    return datetime.combine(_suivant(mois), time(9, 0))


def _validation(mois: date) -> datetime:
    """The same day, 16:00: when the siège validated (or refused) it."""
    return datetime.combine(_suivant(mois), time(16, 0))


def _months(start: date, t0: datetime) -> list[date]:
    """The months since `start` whose allocation was already validated by the demo's "now"."""
    out, d = [], start.replace(day=1)
    while _validation(d) < t0:
        out.append(d)
        d = _suivant(d)
    return out


def _avant(moment: datetime, t0: datetime, marge: timedelta = timedelta(minutes=30)) -> datetime:
    """`moment`, or just before the demo's "now" when it would fall after it."""
    return min(moment, t0 - marge)


def _run(session, workflow, transition, ids, actor, *, now: datetime, **kwargs):
    """A transition run at `now` with the clock moved there (the rows' « Modifié le » as its audit says)."""
    with deplacee(now):
        return run(session, workflow, transition, Selection.of_ids(ids), actor, now=now, **kwargs)


def _beneficiaires(session, rng, fake, structures, n, aujourdhui: date) -> list[Beneficiaire]:
    rows = []
    for k in range(n):
        nom, prenom = fake.last_name(), fake.first_name()
        eee = rng.random() > 0.08
        protection = ProtectionJuridique.CURATELLE if rng.random() < 0.03 else ProtectionJuridique.AUCUNE
        naissance = date(2000, 1, 1) + timedelta(days=rng.randrange(0, 365 * 9))
        micro = rng.random() < 0.05
        b = Beneficiaire(
            identifiant_imilo=f"IM{1_000_000 + k:08d}", nom=nom, prenom=prenom, nom_recherche=normalise(nom, prenom),
            date_naissance=naissance, email=f"{normalise(prenom, '').strip().lower().replace(' ', '-')}.{k}@exemple.fr",
            telephone=f"06{rng.randrange(10**8):08d}", adresse=fake.street_address()[:200],
            code_postal=f"59{rng.randrange(1000):03d}", ville=rng.choice(["Lille", "Roubaix", "Tourcoing",
                                                                        "Villeneuve-d'Ascq", "Lomme", "Wattrelos"]),
            antenne_id=structures[ANTENNES[k % 3]].id, ressortissant_eee=eee,
            numero_agdref=None if eee else f"{rng.randrange(10**9, 10**10)}",
            date_fin_titre_sejour=None if eee else aujourdhui + timedelta(days=rng.randrange(60, 900)),
            inscrit_france_travail=rng.random() < 0.93, qpv=rng.random() < 0.2, rqth=rng.random() < 0.03,
            tranche_fiscale=TrancheFiscale.TRANCHE_1 if rng.random() < 0.15 else TrancheFiscale.NON_IMPOSABLE,
            protection_juridique=protection,
            reference_jugement=f"TJ Lille RG {rng.randrange(10000, 99999)}/25" if protection != ProtectionJuridique.AUCUNE else None,
            micro_entrepreneur=micro, activite_micro=rng.choice(["bic_services", "bnc", "achat_revente"]) if micro else None,
            date_immatriculation_micro=aujourdhui - timedelta(days=rng.randrange(30, 700)) if micro else None)
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
    """The demo, dated relative to `today` (the application's clock by default)."""
    t0 = demo_t0(today)
    with deplacee(t0):
        return _load(session, seed, t0)


def _load(session, seed: int, T0: datetime) -> dict[str, int]:
    AUJOURDHUI = T0.date()
    rng = random.Random(seed)
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    with deplacee(T0 - timedelta(days=400)):  # the Mission Locale, its catalogue and accounts predate the story
        structures = load_structures(session)
        catalogue = load_catalogue(session)
        comptes = load_demo_accounts(session, structures)
        # a third antenne's conseiller, locked by three wrong passwords (the support desk's daily case, R68)
        verrou = Compte(login="conseiller3", role=Role.CONSEILLER, prenom="Inès", nom="Verrouillée",
                        email="conseiller3@ml-metropole.example.fr", structure_id=structures["ML-ANT-EST"].id,
                        password_hash=comptes["admin"].password_hash, must_change_password=False,
                        statut=CompteStatut.VERROUILLE, failed_attempts=3, failures_since_unlock_total=3,
                        last_failed_at=T0 - timedelta(minutes=12), locked_at=T0 - timedelta(minutes=12),
                        locked_until=T0 + timedelta(minutes=18))
        session.add(verrou)
        session.flush()
    conseiller_of = {structures["ML-ANT-NORD"].id: comptes["conseiller"], structures["ML-ANT-SUD"].id: comptes["conseiller2"],
                     structures["ML-ANT-EST"].id: verrou}
    siege, manager, comptable = comptes["siege"], comptes["manager"], comptes["comptable"]

    with deplacee(T0 - timedelta(days=310)):
        youths = _beneficiaires(session, rng, fake, structures, 300, AUJOURDHUI)
    inscriptions, cerfas = [], []
    other_codes = ["DIAG", "RE", "PARRAINAGE", "QPV", "PAO", "AVENIR_PRO", "DECLIC"]
    for k, b in enumerate(youths):
        r = rng.random()
        code = "CEJ" if r < 0.55 else "PACEA" if r < 0.85 else rng.choice(other_codes)
        d = catalogue[code]
        debut = AUJOURDHUI - timedelta(days=rng.randrange(20, 300))
        fin = debut + timedelta(days=30 * (d.duree_max_mois or 6))
        ouvert = datetime.combine(debut, time(9, 0))  # the path, its RIB and its cerfa are entered the day it begins
        with deplacee(ouvert):
            insc = Inscription(numero=f"P{2025_000_000 + k}", beneficiaire_id=b.id, dispositif_id=d.id,
                               antenne_id=b.antenne_id, referent_id=conseiller_of[b.antenne_id].id, date_debut=debut,
                               date_fin_prevue=fin, pilote=d.pilote_code, prescripteur="France Travail" if rng.random() < .3 else None)
            cloture = None
            if code not in ("CEJ", "PACEA") and rng.random() < 0.3:  # some closed paths, with their exit reason
                fin_reelle = min(AUJOURDHUI, debut + timedelta(days=rng.randrange(10, 80)))
                cloture = (rng.choice(d.motifs_sortie), fin_reelle)
            session.add(insc)
            session.flush()
            if cloture is not None:  # through the close transition (R2, R3: the reason's positive-exit flag)
                _run(session, PARCOURS, "cloturer", [insc.id], conseiller_of[b.antenne_id],
                     params={"motif_sortie_id": cloture[0].id, "date_fin": cloture[1]},
                     now=max(ouvert, _avant(datetime.combine(cloture[1], time(17, 0)), T0)))
            inscriptions.append((insc, code))
            if code in ("CEJ", "PACEA"):
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

    # the scheduler's automatic ends (its job jobs.parcours: planned end or residence permit gone by) as they
    # happened: a weekly pass over the story, then today's, so that no enrolment is still open after its end
    from backoffice.workflows.parcours import cloturer_parcours_echus
    fins = sorted({i.date_fin_prevue + timedelta(days=7 - i.date_fin_prevue.weekday()) for i, _ in inscriptions
                   if i.date_fin_reelle is None and i.date_fin_prevue + timedelta(days=7) < AUJOURDHUI})
    for lundi in fins:  # the Monday after a planned end (only the weeks where one ends: the passes between do nothing)
        passage = datetime.combine(lundi, time(6, 0))
        with deplacee(passage):
            cloturer_parcours_echus(session, now=passage)
    with deplacee(T0 - timedelta(minutes=5)):
        cloturer_parcours_echus(session, now=T0 - timedelta(minutes=5))
    session.commit()

    # allocations for each month since the start, amounts from the rules (R21-R34); some youths
    # missed a month, which their conseiller later asks for as a hors-délai (R48)
    missed = []
    for n, (c, insc, b) in enumerate(cerfas):
        months_of = _months(insc.date_debut, T0)
        for mois in months_of:
            if n % 15 == 0 and len(months_of) > 3 and mois == months_of[1]:
                missed.append((c, insc, mois))
                continue
            salaire = rng.choice([None, None, None, Decimal("250.00"), Decimal("600.00"), Decimal("950.00")])
            lignes = [("Salaire", salaire)] if salaire else []
            try:  # recorded in time: on the 1st of the next month at the latest (R35/R48)
                with deplacee(_envoi(mois)):
                    enregistrer_allocation(session, inscription_id=insc.id, mois=mois, lignes=lignes,
                                           actor=conseiller_of[insc.antenne_id], now=_envoi(mois))
            except WorkflowError:  # e.g. a youth outside the CEJ age limits gets no allowance
                break
    session.commit()

    # cerfa: received the day after the path began; validated by the siège with the entry allocation (R40) the day
    # that allocation is recorded (the 1st of the next month, before the month's validations), sent two days later,
    # accepted or refused by the payer a week after (R38)
    def by_antenne(ids):
        groups = {}
        for cid, ant in ids:
            groups.setdefault(ant, []).append(cid)
        return groups

    debut_of = {c.id: insc.date_debut for c, insc, _ in cerfas}

    def by_week(ids):  # (the group's last start, its cerfa): received the day after the week's last start
        groups = {}
        for cid in ids:
            groups.setdefault(debut_of[cid].isocalendar()[:2], []).append(cid)
        return sorted((max(debut_of[c] for c in g), g) for g in groups.values())

    def by_month(ids):  # (the month's first day, its cerfa): their entry allocations are recorded the same day
        groups = {}
        for cid in ids:
            groups.setdefault(debut_of[cid].replace(day=1), []).append(cid)
        return sorted(groups.items())

    def le(debut, jours, heure):
        return _avant(datetime.combine(debut + timedelta(days=jours), time(heure, 0)), T0)

    def apres_entree(debut, jours, heure):
        return le(_suivant(debut), jours, heure)

    all_c = [(c.id, c.antenne_id) for c, _, _ in cerfas]
    rng.shuffle(all_c)
    received = all_c[: int(len(all_c) * 0.9)]
    antenne_of = dict(all_c)
    for debut, ids in by_week([cid for cid, _ in received]):
        for ant, group in by_antenne([(cid, antenne_of[cid]) for cid in ids]).items():
            _run(session, CERFA, "recevoir", group, conseiller_of[ant], now=le(debut, 1, 10))
    validated = [cid for cid, _ in received[: int(len(all_c) * 0.78)]]
    refused = [cid for cid, _ in received[int(len(all_c) * 0.78): int(len(all_c) * 0.82)]]
    sent = validated[: int(len(validated) * 0.85)]
    for debut, ids in by_month(validated):
        _run(session, CERFA, "valider", ids, siege, now=apres_entree(debut, 0, 15))
    for debut, ids in by_month(refused):
        _run(session, CERFA, "refuser", ids, siege, params={"motif_refus": "RIB illisible : fournir un nouveau RIB"},
             now=apres_entree(debut, 0, 15))
    for debut, ids in by_month(sent):
        _run(session, CERFA, "transmettre", ids, siege, now=apres_entree(debut, 2, 10))
    accepted, payer_refused = set(sent[: int(len(sent) * 0.9)]), set(sent[int(len(sent) * 0.95):])
    for debut, ids in by_month(sent):
        if [i for i in ids if i in accepted]:
            _run(session, CERFA, "accepter_payeur", [i for i in ids if i in accepted], comptable, now=apres_entree(debut, 7, 11))
        if [i for i in ids if i in payer_refused]:
            _run(session, CERFA, "refuser_payeur", [i for i in ids if i in payer_refused], comptable,
                 params={"motif_refus": "Titulaire du RIB différent du jeune"}, now=apres_entree(debut, 7, 11))
    session.commit()

    # allocations, month by month (R43: the next one waits for the previous validation)
    months = sorted({m for (m,) in session.execute(sa.select(Allocation.mois).distinct())})
    for i, mois in enumerate(months):
        last = i >= len(months) - 2
        ids = session.execute(sa.select(Allocation.id, Allocation.antenne_id).where(Allocation.mois == mois)).all()
        for ant, group in by_antenne([(a, ant) for a, ant in ids]).items():
            _run(session, ALLOCATION, "soumettre", group, conseiller_of[ant], now=_envoi(mois))
        submitted = [a for (a,) in session.execute(sa.select(Allocation.id).where(
            Allocation.mois == mois, Allocation.statut == AS.SOUMISE))]
        keep = submitted[: len(submitted) // 2] if last else submitted[: int(len(submitted) * 0.97)]
        _run(session, ALLOCATION, "valider", keep, siege, now=_validation(mois))
        if len(submitted) > 3:
            _run(session, ALLOCATION, "refuser", submitted[-2:], siege,
                 params={"motif_refus": "Justificatif de ressources manquant"}, now=_validation(mois))
    session.commit()

    lots = _pay(session, rng, comptable, months, T0)
    corrections = _corrections(session, rng, comptes, conseiller_of, T0)
    hors_delai = _hors_delai(session, rng, missed, conseiller_of, manager, T0)
    _mails(session, rng, T0)
    from .programmes import load_partenaires_et_programmes
    autres = load_partenaires_et_programmes(session, rng, fake, structures, today=T0)
    lots += _payer_activite_partielle(session, rng, comptable, T0)
    session.commit()
    counts = {
        "bénéficiaires": len(youths), "parcours": len(inscriptions), "cerfa": len(cerfas),
        "allocations": session.execute(sa.select(sa.func.count()).select_from(Allocation)).scalar_one(),
        "lots de paiement": lots, "corrections": corrections, "demandes hors délai": hors_delai,
    }
    counts.update(autres)
    return counts


def _pay(session, rng, comptable, months, T0) -> int:
    """Validated allocations of past months went out in SEPA batches through the workflows (issue 13): the siège's
    « Envoyer en paiement » the day before the R41 date that follows their validation (CEJ the 15th, PACEA the 1st
    of the month after: their payables and payments, in the batch of their dispositif and date), the emission of
    each batch that afternoon (payer's controls, pain.001 validated by the XSD), then the bank's execution
    confirmed three days after the execution date for the older ones. A date still to come waits in the grid."""
    from backoffice.models import Dispositif
    from backoffice.rules.calendrier import prochaine_date_envoi
    from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
    siege = session.execute(sa.select(Compte).where(Compte.login == "siege")).scalar_one()
    codes = dict(session.execute(sa.select(Dispositif.id, Dispositif.code)).all())
    rows = session.execute(
        sa.select(Allocation.id, Allocation.mois, Allocation.dispositif_id)
        .where(Allocation.statut == AS.VALIDEE_SIEGE, Allocation.mois <= months[-2], Allocation.montant > 0)
        .order_by(Allocation.id)).all()
    sends: dict = {}
    for r in rows:
        execution = prochaine_date_envoi(codes[r.dispositif_id], _validation(r.mois).date() + timedelta(days=1))
        sends.setdefault(execution, []).append(r.id)
    lots = 0
    for execution, ids in sorted(sends.items()):
        sent_at = datetime.combine(execution - timedelta(days=1), time(10, 0))
        if sent_at + timedelta(hours=6) >= T0:
            continue  # not sent yet: validated, waiting for « Envoyer en paiement »
        _run(session, ALLOCATION, "transmettre", ids, siege, now=sent_at)
        lot_ids = session.execute(sa.select(LotPaiement.id).where(
            LotPaiement.date_execution == execution, LotPaiement.statut == LotStatut.PREPAREE)).scalars().all()
        for lot_id in lot_ids:
            with deplacee(sent_at + timedelta(hours=6)):
                emettre_lot(session, lot_id, now=sent_at + timedelta(hours=6), actor=comptable)
            if execution < T0.date() - timedelta(days=50):
                rapproche = datetime.combine(execution + timedelta(days=3), time(10, 0))
                with deplacee(rapproche):
                    rapprocher_lot(session, lot_id, actor=comptable, now=rapproche)
            lots += 1
        session.commit()
    return lots


def _payer_activite_partielle(session, rng, comptable, T0) -> int:
    """Issue 13's proof that any source is paid: the Activité partielle claims sent to the unit (UD) are validated
    through the AP workflow (seeds/programmes.py created them so), which makes each a payable of its establishment
    (workflows/activite_partielle._creer_echeance_di, the establishment's IBAN); they are paid in the AP programme's
    own batch."""
    from backoffice.models import AutorisationAP, DemandeIndemnisation, Echeance
    from backoffice.models.enums import DIStatut, EcheanceStatut, SourceEcheance
    from backoffice.workflows import activite_partielle as ap
    from backoffice.workflows.echeances import ECHEANCE
    from backoffice.workflows.paiements import emettre_lot
    di_ids = session.execute(sa.select(DemandeIndemnisation.id).join(AutorisationAP)
                             .where(DemandeIndemnisation.statut == DIStatut.ENVOYEE).order_by(DemandeIndemnisation.id)
                             ).scalars().all()
    now = T0 - timedelta(days=3)
    ud = session.scalars(sa.select(Compte).where(Compte.login == "ud")).first()
    if len(di_ids) > 1 and ud is not None:  # the last sent one waits for the UD in the grid
        _run(session, ap.DI, "valider", di_ids[:-1], ud, now=now - timedelta(hours=1))
    ids = session.execute(sa.select(Echeance.id).where(Echeance.source_type == SourceEcheance.DI_ACTIVITE_PARTIELLE,
                                                       Echeance.statut == EcheanceStatut.A_PAYER)
                          .order_by(Echeance.id)).scalars().all()
    if not ids:
        return 0
    en_lot = ids[: max(1, len(ids) - 1)]  # the last one stays « à payer » in the grid
    _run(session, ECHEANCE, "mettre_en_lot", en_lot, comptable, now=now)
    lot_ids = session.execute(sa.select(sa.distinct(Paiement.lot_id)).join(Echeance, Echeance.id == Paiement.echeance_id)
                              .where(Echeance.id.in_(en_lot), Echeance.statut == EcheanceStatut.EN_LOT)).scalars().all()
    for lot_id in lot_ids:
        with deplacee(now + timedelta(hours=2)):
            emettre_lot(session, lot_id, now=now + timedelta(hours=2), actor=comptable)
    session.commit()
    return len(lot_ids)


def _corrections(session, rng, comptes, conseiller_of, T0) -> int:
    """R46/R47: undeclared pay found after payment → a corrective version, a trop-perçu, a reversement."""
    paid = session.execute(sa.select(Allocation).where(Allocation.statut == AS.VERSEE, Allocation.montant > 400)
                           .order_by(Allocation.id).limit(8)).scalars().all()
    done = 0
    for k, a in enumerate(paid):
        conseiller = conseiller_of[a.antenne_id]
        try:
            new = corriger_allocation(session, a.id, lignes=[("Salaire", Decimal("800.00"))] if k % 4 else [],
                                      ressources_differentielles=Decimal("0") if k % 4 else a.montant,
                                      actor=conseiller)
            session.commit()
            _run(session, ALLOCATION, "soumettre", [new.id], conseiller, now=T0)
            _run(session, ALLOCATION, "valider", [new.id], comptes["siege"], now=T0)
            if k < 6:
                _run(session, ALLOCATION, "emettre_reversement", [new.id], comptes["comptable"], now=T0)
            session.commit()
            done += 1
        except WorkflowError:
            session.rollback()
    from backoffice.models import Reversement
    revs = session.execute(sa.select(Reversement).order_by(Reversement.id)).scalars().all()
    _run(session, REVERSEMENT, "notifier", [r.id for r in revs[:5]], comptes["comptable"], now=T0)
    session.commit()
    for k, r in enumerate(revs[:3]):
        montant = r.montant if k == 0 else (r.montant / 2).quantize(Decimal("0.01"))
        enregistrer_remboursement(session, r.id, montant=montant, date_reception=T0.date() - timedelta(days=3),
                                  mode="virement", reference=f"VIR-{r.numero}", actor=comptes["comptable"], now=T0)
        session.commit()
    return done


def _hors_delai(session, rng, missed, conseiller_of, manager, T0) -> int:
    """R48: missed months requested by conseillers; the manager approves or refuses (never their own)."""
    ids = []
    for c, insc, mois in missed[:8]:
        d = DemandeHorsDelai(inscription_id=insc.id, antenne_id=insc.antenne_id, mois=mois,
                             montant_demande=Decimal("561.68") if c.numero.startswith("CERFA-CEJ") else Decimal("300.00"),
                             motif="Mois non demandé à temps : justificatifs reçus en retard",
                             demandeur_id=conseiller_of[insc.antenne_id].id)
        session.add(d)
        session.flush()
        ids.append(d.id)
    session.commit()
    _run(session, HORS_DELAI, "approuver", ids[:3], manager, now=T0)
    _run(session, HORS_DELAI, "refuser", ids[3:5], manager,
         params={"motif_refus": "Délai de forclusion de 3 mois dépassé (R36)"}, now=T0)
    session.commit()
    return len(ids)


def _mails(session, rng, T0) -> None:
    """Some history in the mail outbox: sent, waiting, failed (the grid's "renvoyer" has work)."""
    mails = session.execute(sa.select(MailOutbox).order_by(MailOutbox.id)).scalars().all()
    for k, m in enumerate(mails):
        if k % 5 == 0:
            m.statut, m.tentatives, m.derniere_erreur = MailStatut.ECHEC, 5, "SMTP 451 : boîte du destinataire indisponible"
        elif k % 5 in (1, 2, 3):
            m.statut, m.tentatives, m.envoye_at = MailStatut.ENVOYE, 1, T0
    session.commit()
