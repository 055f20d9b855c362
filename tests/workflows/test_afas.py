"""Afas declarations through workflows.afas (issue 15), on the populated database: the checks and their
justifications (R59), the approver (R60), the life cycle, and the acomptes and balance made payable (R79)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from backoffice import models as m
from backoffice.models.enums import (DeclarationStatut as S, DeclarationType as DT, HabilitationAfasRole as H, ModeLieu,
                                     NatureAnomalie, Role, TypeStructure)
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, afas, run
from backoffice.workflows.errors import TransitionRefused
from backoffice.workflows.afas_items import saisir_items
from seeds.comptes import DEMO_PASSWORD
from seeds.programmes import items_exemple

pytestmark = pytest.mark.populated

T0 = datetime(2025, 6, 16, 9, 0)
IBAN_ER = "FR7630006000011234567890189"  # the service's account (R76: valid RIB key), paid the acomptes (R79)
_n = iter(range(1, 10_000))


class Service:
    """A test Espace de rencontre: one venue, its three habilitated users, the Caf agent."""

    def __init__(self, s, ref, *, mode=ModeLieu.MONO_LIEU, iban=IBAN_ER):
        k = next(_n)
        self.s = s
        self.caf = ref.comptes["caf"]
        self.p = m.Structure(code=f"ER-T{k}", nom=f"Espace de rencontre test {k}", type=TypeStructure.PARTENAIRE_AFAS,
                             email=f"er-t{k}@partenaire.example.fr", iban=iban)
        s.add(self.p)
        s.flush()
        self.lieu = afas.creer_lieu(s, actor=self.caf, partenaire_id=self.p.id, nom=f"Lieu {k}", mode=mode)
        self.users = {}
        for role, short in ((H.FOURNISSEUR_ACTIVITE, "act"), (H.FOURNISSEUR_FINANCIER, "fin"), (H.APPROBATEUR, "app")):
            self.users[role] = self.user(f"t{k}-{short}", role)
        self.act, self.fin, self.app = (self.users[H.FOURNISSEUR_ACTIVITE], self.users[H.FOURNISSEUR_FINANCIER],
                                        self.users[H.APPROBATEUR])

    def user(self, login, *roles):
        c = m.Compte(login=login, role=Role.PARTENAIRE, prenom="Paul", nom=login, email=f"{login}@er.example.fr",
                     password_hash=hash_password(DEMO_PASSWORD), must_change_password=False)
        self.s.add(c)
        self.s.flush()
        for role in roles:
            afas.habiliter(self.s, actor=self.caf, compte_id=c.id, partenaire_id=self.p.id, role=role)
        return c

    def declaration(self, exercice, type_=DT.PREVISIONNELLE, *, charges=D("30000"), produits=None, lignes=True,
                    finances_par=None, items=True):
        d = afas.creer_declaration(self.s, actor=self.fin, partenaire_id=self.p.id, exercice=exercice, type=type_,
                                   now=T0)
        if lignes:  # 2 × (400 + 100 + 100) = 1 200 h
            for sem in (1, 2):
                self.s.add(m.LigneActivite(declaration_id=d.id, lieu_id=self.lieu.id, semestre=sem,
                                           heures_rencontres=D("400"), heures_entretiens=D("100"),
                                           heures_organisation=D("100")))
            afas.enregistrer(self.s, [d.id], actor=self.act, now=T0, part=afas.PART_ACTIVITE)
        d.budget, d.charges, d.produits = charges, charges, produits if produits is not None else charges
        afas.enregistrer(self.s, [d.id], actor=finances_par or self.fin, now=T0, part=afas.PART_FINANCES)
        if type_ == DT.REELLE and items:  # R57: the yearly items, each part by its provider (R60)
            for part, actor in (("activite", self.act), ("finances", finances_par or self.fin)):
                saisir_items(self.s, actor=actor, declaration_id=d.id, saisie=items_exemple(self.s, part), now=T0)
        return d

    def go(self, d, name, actor, **params):
        return run(self.s, afas.DECLARATION, name, Selection.of_ids([d.id]), actor, params=params, now=T0)

    def through(self, d, *, droit_retenu=None, motif=None):
        for name, actor in (("controler", self.fin), ("approuver", self.app), ("transmettre", self.app),
                            ("prendre_en_traitement", self.caf)):
            r = self.go(d, name, actor)
            assert r.changed == 1, r.message()
        if droit_retenu is not None or motif:
            r = self.go(d, "traiter", self.caf, droit_retenu=str(droit_retenu or ""), motif_droit=motif or "")
        else:
            r = self.go(d, "traiter", self.caf)
        assert r.changed == 1, r.message()

    def anomalies(self, d):
        return {a.code: a for a in self.s.scalars(sa.select(m.Anomalie).where(m.Anomalie.declaration_id == d.id))}


@pytest.fixture
def service(db, ref):
    return Service(db.session, ref)


def test_R78_estimate_written_on_save(service, db):
    d = service.declaration(2025, charges=D("30000"))
    db.session.refresh(d)
    assert d.droit_estime == D("0.60") * D("30000") == D("18000.00")  # 25 €/h < ceiling, 1 200 h


def test_R59_declaration_cannot_be_transmitted_while_an_anomaly_is_unjustified_then_can(service, db):
    # 60 000 € / 1 200 h = 50 €/h > 35 €/h: justifiable anomaly COUT-PLAFOND
    d = service.declaration(2025, charges=D("60000"))
    a = service.anomalies(d)["COUT-PLAFOND"]
    assert a.nature == NatureAnomalie.JUSTIFIABLE and a.justification is None
    r = service.go(d, "controler", service.fin)
    assert r.changed == 0
    assert "anomalie à justifier avant la transmission : COUT-PLAFOND (R59)" in r.message()
    with pytest.raises(TransitionRefused, match="10 caractères"):
        afas.justifier(db.session, actor=service.fin, anomalie_id=a.id, justification="  ", now=T0)
    afas.justifier(db.session, actor=service.fin, anomalie_id=a.id,
                   justification="Loyer du nouveau local, pris en charge à 50 % par la commune.", now=T0)
    assert service.go(d, "controler", service.fin).changed == 1
    assert service.go(d, "approuver", service.app).changed == 1
    assert service.go(d, "transmettre", service.app).changed == 1
    db.session.refresh(d)
    assert d.statut == S.TRANSMISE and d.transmise_at == T0
    events = db.session.scalars(sa.select(m.AuditEvent.action).where(
        m.AuditEvent.entity == "declaration_partenaire", m.AuditEvent.entity_id == d.id)).all()
    assert {"creer", "controler", "approuver", "transmettre"} <= set(events)
    mail = db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.template == "afas_transmise",
                                                            m.MailOutbox.destinataire == service.p.email)).one()
    assert mail.contexte["exercice"] == 2025


def test_R59_justification_kept_on_save_and_checks_run_again_before_sending(service, db):
    d = service.declaration(2025, charges=D("60000"))
    a = service.anomalies(d)["COUT-PLAFOND"]
    afas.justifier(db.session, actor=service.fin, anomalie_id=a.id, justification="Loyer du nouveau local.", now=T0)
    afas.enregistrer(db.session, [d.id], actor=service.fin, now=T0, part=afas.PART_FINANCES)
    assert service.anomalies(d)["COUT-PLAFOND"].justification == "Loyer du nouveau local."
    assert service.go(d, "controler", service.fin).changed == 1
    # a row changed behind the screens' back (here: its justification removed) is caught at sending
    db.session.execute(sa.update(m.Anomalie).where(m.Anomalie.id == a.id).values(justification=None))
    assert service.go(d, "approuver", service.app).changed == 1
    r = service.go(d, "transmettre", service.app)
    assert r.changed == 0 and "anomalie à justifier" in r.message()


def test_R59_blocking_anomaly_cannot_be_justified_away(service, db):
    d = service.declaration(2025, charges=D("30000"), produits=D("28000"))  # budget not balanced
    a = service.anomalies(d)["BUDGET"]
    assert a.nature == NatureAnomalie.BLOQUANTE
    with pytest.raises(TransitionRefused, match="bloquante se corrige"):
        afas.justifier(db.session, actor=service.fin, anomalie_id=a.id,
                       justification="Une subvention de 2 000 € est attendue.", now=T0)
    with pytest.raises(IntegrityError):  # the database refuses it too
        with db.session.begin_nested():
            db.session.execute(sa.update(m.Anomalie).where(m.Anomalie.id == a.id).values(justification="contourné"))
    r = service.go(d, "controler", service.fin)
    assert r.changed == 0 and "anomalie bloquante à corriger : BUDGET (R59)" in r.message()
    d.produits = D("30000")  # fixed
    afas.enregistrer(db.session, [d.id], actor=service.fin, now=T0, part=afas.PART_FINANCES)
    assert "BUDGET" not in service.anomalies(d)
    assert service.go(d, "controler", service.fin).changed == 1


def test_R59_missing_half_year_is_blocking(service, db):
    d = service.declaration(2025, lignes=False)
    assert service.anomalies(d)["LIEU-SEMESTRE"].nature == NatureAnomalie.BLOQUANTE


def test_R60_approver_who_filled_it_in_is_refused(service, db):
    both = service.user("t-fin-app", H.FOURNISSEUR_FINANCIER, H.APPROBATEUR)
    d = service.declaration(2025, finances_par=both)
    assert service.go(d, "controler", both).changed == 1
    r = service.go(d, "approuver", both)
    assert r.changed == 0 and "l'approbateur n'est pas la personne qui a rempli la déclaration (R60)" in r.message()
    assert service.go(d, "approuver", service.app).changed == 1
    db.session.refresh(d)
    assert d.approuvee_par_id == service.app.id and d.approuvee_par == f"Paul {service.app.nom}"


def test_R60_financial_provider_cannot_approve(service, db):
    d = service.declaration(2025)
    assert service.go(d, "controler", service.fin).changed == 1
    r = service.go(d, "approuver", service.fin)
    assert r.changed == 0 and "seul l'approbateur habilité du service approuve et transmet (R60)" in r.message()


def test_R60_a_user_of_another_service_cannot_act(service, db, ref):
    other = Service(db.session, ref)
    d = service.declaration(2025)
    assert service.go(d, "controler", service.fin).changed == 1
    r = service.go(d, "approuver", other.app)
    assert r.changed == 0 and "introuvable ou supprimée" in r.message()  # issue 12: answered as a missing row


def test_caf_sends_back_with_a_reason_and_the_partner_corrects(service, db):
    d = service.declaration(2025)
    for name, actor in (("controler", service.fin), ("approuver", service.app), ("transmettre", service.app)):
        assert service.go(d, name, actor).changed == 1
    with pytest.raises(Exception, match="Motif du renvoi"):
        service.go(d, "renvoyer", service.caf)
    assert service.go(d, "renvoyer", service.caf, motif_renvoi="Heures du 2e semestre à revoir.").changed == 1
    db.session.refresh(d)
    assert d.statut == S.RENVOYEE and d.motif_renvoi == "Heures du 2e semestre à revoir."
    assert db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.template == "afas_renvoyee",
                                                            m.MailOutbox.destinataire == service.p.email)).one()
    afas.enregistrer(db.session, [d.id], actor=service.act, now=T0, part=afas.PART_ACTIVITE)
    db.session.refresh(d)
    assert d.statut == S.EN_SAISIE  # checked, approved and sent again


def test_caf_retains_another_droit_only_with_a_reason(service, db):
    d = service.declaration(2025)  # estimate 18 000
    for name, actor in (("controler", service.fin), ("approuver", service.app), ("transmettre", service.app),
                        ("prendre_en_traitement", service.caf)):
        service.go(d, name, actor)
    r = service.go(d, "traiter", service.caf, droit_retenu="15 000,00")
    assert r.changed == 0 and "un droit retenu différent de l'estimation demande un motif (R78)" in r.message()
    assert service.go(d, "traiter", service.caf, droit_retenu="15 000,00",
                      motif_droit="Heures d'organisation non retenues au-delà du plafond.").changed == 1
    db.session.refresh(d)
    assert d.statut == S.TRAITEE and d.droit_retenu == D("15000.00") and d.droit_estime == D("18000.00")


def test_R79_acomptes_and_balances_made_payable_with_the_right_amounts(service, db, monkeypatch):
    calls = []

    def spy(session, ids, kind, ctx):  # the hook the lead wires to the payment chain: what it receives
        col = {"acompte_1": m.DeclarationPartenaire.acompte_1, "acompte_2": m.DeclarationPartenaire.acompte_2,
               "solde": m.DeclarationPartenaire.solde, "reversement": m.DeclarationPartenaire.solde}[kind]
        rows = session.execute(sa.select(m.DeclarationPartenaire.id, col).where(
            m.DeclarationPartenaire.id.in_(ids))).all()
        calls.append((kind, {i: v for i, v in rows}))
    monkeypatch.setattr(afas, "_creer_echeance_afas", spy)

    # 1. forecast 2024, 40 000 € for 1 200 h (33,33 €/h < 35): droit 60 % × 40 000 = 24 000; new service
    #    (no actual 2022): 1st acompte = 35 % × 24 000 = 8 400
    p24 = service.declaration(2024, charges=D("40000"))
    for name, actor in (("controler", service.fin), ("approuver", service.app), ("transmettre", service.app)):
        assert service.go(p24, name, actor).changed == 1
    assert calls == [("acompte_1", {p24.id: D("8400.00")})]
    # 2. actual 2023 processed, the Caf retains 20 000: 2nd acompte of 2024 = 35 % × 24 000 = 8 400;
    #    balance of 2023 = 20 000 − 0 paid (no forecast 2023 here) = 20 000
    r23 = service.declaration(2023, DT.REELLE, charges=D("33000"))
    service.through(r23, droit_retenu=D("20000"), motif="Charges exceptionnelles non retenues.")
    assert calls[1:] == [("acompte_2", {p24.id: D("8400.00")}), ("solde", {r23.id: D("20000.00")})]
    # 3. forecast 2025 (droit 24 000) sent: 1st acompte = 35 % × actual droit 2023 (20 000) = 7 000
    p25 = service.declaration(2025, charges=D("40000"))
    for name, actor in (("controler", service.fin), ("approuver", service.app), ("transmettre", service.app)):
        assert service.go(p25, name, actor).changed == 1
    assert calls[3:] == [("acompte_1", {p25.id: D("7000.00")})]
    # 4. actual 2024: 38 000 € → estimate 22 800 (5 % from the forecast: no anomaly); the Caf retains
    #    12 000: 50 % from the forecast, unjustified → 70 % limit: 2nd acompte of 2025 =
    #    min(35 % × 24 000 = 8 400, 70 % × 12 000 − 7 000 = 1 400) = 1 400;
    #    balance 2024 = 12 000 − (8 400 + 8 400) = −4 800: a reversement
    r24 = service.declaration(2024, DT.REELLE, charges=D("38000"))
    assert "ECART-PREV" not in service.anomalies(r24)
    service.through(r24, droit_retenu=D("12000"), motif="Activité réelle inférieure : fermeture de 4 mois.")
    assert D("0.70") * 12000 - 7000 == 1400 and D("12000") - (D("8400") + D("8400")) == D("-4800")
    assert calls[4:] == [("acompte_2", {p25.id: D("1400.00")}), ("reversement", {r24.id: D("-4800.00")})]
    # the forecast of 2024 processed afterwards makes nothing payable again
    service.go(p24, "prendre_en_traitement", service.caf)
    service.go(p24, "traiter", service.caf)
    assert len(calls) == 6


def test_R58_structure_refused_when_modes_are_mixed(db, ref):
    svc = Service(db.session, ref, mode=ModeLieu.ITINERANCE)
    afas.creer_lieu(db.session, actor=svc.caf, partenaire_id=svc.p.id, nom="Lieu 2", mode=ModeLieu.ITINERANCE)
    with pytest.raises(TransitionRefused, match="R58"):
        afas.creer_lieu(db.session, actor=svc.caf, partenaire_id=svc.p.id, nom="Lieu 3", mode=ModeLieu.ANTENNE)
    mono = Service(db.session, ref)
    with pytest.raises(TransitionRefused, match="R58"):
        afas.creer_lieu(db.session, actor=mono.caf, partenaire_id=mono.p.id, nom="Second", mode=ModeLieu.MONO_LIEU)
    # a closed venue no longer counts: the service may become multi-venue
    mono.lieu.ferme_le = date(2024, 12, 31)
    db.session.flush()
    afas.verifier_structure(db.session, mono.p.id, ajout_mode=ModeLieu.ANTENNE, le=date(2025, 1, 1))


def test_R56_one_forecast_per_year(service, db):
    service.declaration(2025)
    with pytest.raises(TransitionRefused, match="R56"):
        afas.creer_declaration(db.session, actor=service.fin, partenaire_id=service.p.id, exercice=2025,
                               type=DT.PREVISIONNELLE)


def test_demo_declarations_went_through_the_workflow(populated_db):
    db = populated_db
    rows = db.session.execute(sa.select(m.DeclarationPartenaire.statut, sa.func.count())
                              .group_by(m.DeclarationPartenaire.statut)).all()
    statuts = dict(rows)
    assert statuts.get(S.TRAITEE) and statuts.get(S.RENVOYEE) and statuts.get(S.EN_SAISIE)
    traitees = db.session.scalars(sa.select(m.DeclarationPartenaire).where(
        m.DeclarationPartenaire.statut == S.TRAITEE)).all()
    for d in traitees:  # every step audited, the estimate R78 (not 30 % of the budget)
        assert d.droit_retenu == d.droit_estime and d.droit_estime != (d.budget * D("0.30")).quantize(D("0.01"))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.entity == "declaration_partenaire", m.AuditEvent.entity_id == d.id,
            m.AuditEvent.action == "traiter")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.DeclarationPartenaire).where(
        m.DeclarationPartenaire.acompte_1.is_not(None))) >= 6


def test_caf_processes_in_bulk_on_a_filter(service, db, ref):
    other = Service(db.session, ref)
    decls = [service.declaration(2025), other.declaration(2025)]
    for svc, d in zip((service, other), decls):
        for name, actor in (("controler", svc.fin), ("approuver", svc.app), ("transmettre", svc.app)):
            assert svc.go(d, name, actor).changed == 1
    ids = [d.id for d in decls]
    query = sa.select(m.DeclarationPartenaire.id).where(m.DeclarationPartenaire.id.in_(ids),
                                                        m.DeclarationPartenaire.statut == S.TRANSMISE)
    r = run(db.session, afas.DECLARATION, "prendre_en_traitement", Selection.of_query(query), service.caf, now=T0)
    assert r.changed == 2
    r = run(db.session, afas.DECLARATION, "traiter", Selection.of_ids(ids), service.caf, now=T0 + timedelta(hours=1))
    assert r.changed == 2 and r.amount == D("36000.00")  # 2 × 18 000 estimated, retained as is
    assert set(db.session.scalars(sa.select(m.DeclarationPartenaire.statut).where(
        m.DeclarationPartenaire.id.in_(ids)))) == {S.TRAITEE}
    from backoffice.workflows.errors import RoleRefused
    with pytest.raises(RoleRefused):  # a partner's user does not process
        service.go(decls[0], "renvoyer", service.app, motif_renvoi="Pour voir.")
