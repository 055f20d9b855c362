"""R68 lockout with a controlled clock (E11), no user enumeration, per-IP throttle, grid state."""

from __future__ import annotations

from datetime import timedelta

import re

import pytest
import sqlalchemy as sa

from backoffice.models import AuditEvent, Compte
from backoffice.models.enums import CompteStatut
from backoffice.workflows import comptes as wf
from tests.auth.conftest import DEMO_PASSWORD, T0, attempt

THIRD = T0 + timedelta(minutes=2)


def _compte(db, login="conseiller") -> Compte:
    db.session.expire_all()
    return db.session.execute(sa.select(Compte).where(Compte.login == login)).scalar_one()


def _actions(db, compte_id):
    return [a for (a,) in db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.entity_id == compte_id)
                                             .order_by(AuditEvent.id))]


def test_locked_at_the_third_failure_refused_at_29_59_accepted_at_30_01_E11(app, client, db, ref):
    assert attempt(app, client, "faux", T0).status_code == 401
    assert attempt(app, client, "faux", T0 + timedelta(minutes=1)).status_code == 401
    assert _compte(db).statut == CompteStatut.ACTIF
    assert attempt(app, client, "faux", THIRD).status_code == 401
    compte = _compte(db)
    assert compte.statut == CompteStatut.VERROUILLE
    assert compte.locked_until == T0 + timedelta(minutes=32)  # E11: 10:02 → 10:32

    # E11: the right password at 29:59 after the third failure is still refused, with the same answer
    resp = attempt(app, client, DEMO_PASSWORD, THIRD + timedelta(minutes=29, seconds=59))
    assert resp.status_code == 401 and wf.MESSAGE_ECHEC in resp.get_data(as_text=True)
    assert _compte(db).statut == CompteStatut.VERROUILLE

    resp = attempt(app, client, DEMO_PASSWORD, THIRD + timedelta(minutes=30, seconds=1))
    assert resp.status_code == 302
    compte = _compte(db)
    assert (compte.statut, compte.failed_attempts, compte.locked_until) == (CompteStatut.ACTIF, 0, None)
    actions = _actions(db, compte.id)
    assert actions.count("connexion_echec") == 3
    assert {"verrouillage", "connexion_refusee_verrouille", "deverrouillage_auto", "connexion"} <= set(actions)


def test_a_success_after_two_failures_resets_the_counter_E11(app, client, db, ref):
    attempt(app, client, "faux", T0)
    attempt(app, client, "faux", T0 + timedelta(minutes=1))
    assert _compte(db).failed_attempts == 2
    assert attempt(app, client, DEMO_PASSWORD, T0 + timedelta(minutes=2)).status_code == 302
    assert _compte(db).failed_attempts == 0
    # two more failures do not lock: the count started again from zero
    other = app.test_client()
    attempt(app, other, "faux", T0 + timedelta(minutes=3))
    attempt(app, other, "faux", T0 + timedelta(minutes=4))
    assert _compte(db).statut == CompteStatut.ACTIF


def test_after_100_failures_across_auto_unlocks_only_the_support_desk_unlocks(app, db, ref, monkeypatch):
    """33 lock cycles of 3 failures, each auto-unlocked 30 minutes later, then the 100th failure."""
    monkeypatch.setattr(wf, "verify_password", lambda h, pw: pw == DEMO_PASSWORD)  # argon2 off: 100 tries
    now = T0
    for n in range(1, 101):
        result = wf.authenticate(db.session, "conseiller", "faux", now=now)
        db.session.commit()
        assert not result.ok
        compte = _compte(db)
        if n % 3 == 0 and n < 100:
            assert compte.statut == CompteStatut.VERROUILLE and compte.locked_until is not None, n
            now = compte.locked_until + timedelta(seconds=1)
        else:
            now += timedelta(seconds=10)
    compte = _compte(db)
    assert compte.statut == CompteStatut.VERROUILLE and compte.locked_until is None
    assert wf.etat_verrouillage(compte, now) == "Verrouillé : déblocage par l'assistance uniquement"
    # a week later, the right password is still refused
    assert not wf.authenticate(db.session, "conseiller", DEMO_PASSWORD, now=now + timedelta(days=7)).ok
    db.session.commit()
    # the support desk's unlock (workflow transition) opens it again
    from backoffice.workflows.compte_transitions import COMPTE
    from backoffice.workflows.engine import run
    from backoffice.workflows.selection import Selection
    report = run(db.session, COMPTE, "deverrouiller", Selection.of_ids([compte.id]), ref.comptes["support"],
                 now=now + timedelta(days=7))
    db.session.commit()
    assert report.changed == 1
    assert wf.authenticate(db.session, "conseiller", DEMO_PASSWORD, now=now + timedelta(days=7)).ok


def test_a_failure_while_locked_does_not_extend_the_lock(app, client, db, ref):
    for minute in range(3):
        attempt(app, client, "faux", T0 + timedelta(minutes=minute))
    attempt(app, client, "faux", T0 + timedelta(minutes=20))
    assert _compte(db).locked_until == T0 + timedelta(minutes=32)


def test_unknown_user_wrong_password_and_locked_account_get_the_same_answer_and_the_same_work(
        app, client, db, ref, monkeypatch):
    from backoffice.models.enums import CompteStatut as S
    ref.comptes["conseiller2"].statut = S.VERROUILLE
    ref.comptes["conseiller2"].locked_until = T0 + timedelta(hours=1)
    db.session.commit()
    calls = []
    real = wf.verify_password
    monkeypatch.setattr(wf, "verify_password", lambda h, pw: calls.append(h is not None) or real(h, pw))
    answers = []
    for login, password in (("personne-inconnue", "faux"), ("conseiller", "faux"), ("conseiller2", DEMO_PASSWORD),
                            ("x" * 64, "faux"), ("con\tseiller", "faux")):
        resp = attempt(app, client, password, T0, username=login)
        answers.append((resp.status_code, re.findall(r'role="alert">([^<]*)<', resp.get_data(as_text=True))))
    assert answers == [(401, [wf.MESSAGE_ECHEC])] * 5
    assert len(calls) == 5  # one argon2 verification on every path (the dummy hash when no account)


def test_login_attempts_are_audited_with_their_ip(app, client, db, ref):
    attempt(app, client, "faux", T0, username="inconnu")
    attempt(app, client, DEMO_PASSWORD, T0, username="siege")
    rows = db.session.execute(sa.select(AuditEvent.action, AuditEvent.ip, AuditEvent.params)
                              .where(AuditEvent.entity == "compte").order_by(AuditEvent.id)).all()
    assert [(r.action, r.ip) for r in rows] == [("connexion_echec", "127.0.0.1"), ("connexion", "127.0.0.1")]
    assert rows[0].params == {"login": "inconnu"}


# ---- per-IP throttle -------------------------------------------------------------------------------

def test_the_per_ip_throttle_stops_a_password_sprayer_before_accounts_lock(app, client, db, ref):
    app.config["LIMITE_CONNEXION_IP"] = (5, 600)
    logins = ["admin", "siege", "manager", "support", "comptable", "conseiller"]
    codes = [attempt(app, client, "Printemps2025!", T0 + timedelta(seconds=i), username=login).status_code
             for i, login in enumerate(logins)]
    assert codes == [401] * 5 + [429]
    resp = attempt(app, client, DEMO_PASSWORD, T0 + timedelta(minutes=1), username="siege")
    assert resp.status_code == 429 and "Trop de tentatives" in resp.get_data(as_text=True)
    assert resp.headers["Retry-After"]
    # nobody is locked, and the window slides: ten minutes after the first failure, one more try
    assert all(_compte(db, x).statut == CompteStatut.ACTIF for x in logins)
    assert attempt(app, client, DEMO_PASSWORD, T0 + timedelta(minutes=10, seconds=1),
                   username="siege").status_code == 302


def test_the_throttle_counts_only_failures_and_keeps_working_without_redis(app, db, ref):
    app.config["LIMITE_CONNEXION_IP"] = (2, 600)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    for i in range(3):  # successes do not count
        assert attempt(app, app.test_client(), DEMO_PASSWORD, T0 + timedelta(seconds=i),
                       username="siege").status_code == 302
    c = app.test_client()
    codes = [attempt(app, c, "faux", T0 + timedelta(seconds=10 + i), username="inconnu").status_code
             for i in range(3)]
    assert codes == [401, 401, 429]


def test_throttle_log_prunes_its_own_old_rows(db, ref):
    from backoffice.models.comptes import LimitationTentative
    for minute in range(5):
        wf.compter_tentative(db.session, "connexion_ip:1.2.3.4", fenetre=timedelta(minutes=2),
                             now=T0 + timedelta(minutes=minute))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LimitationTentative)) == 2
    assert wf.purger_tentatives(db.session, avant=T0 + timedelta(hours=1)) == 2


# ---- the accounts grid's lock column -----------------------------------------------------------

@pytest.mark.parametrize("statut, failed, until, now, expected", [
    (CompteStatut.ACTIF, 0, None, T0, "Actif"),
    (CompteStatut.ACTIF, 1, None, T0, "Actif (1 échec récent)"),
    (CompteStatut.ACTIF, 2, None, T0, "Actif (2 échecs récents)"),
    (CompteStatut.VERROUILLE, 3, T0 + timedelta(minutes=30), T0, "Verrouillé : encore 30 min"),
    (CompteStatut.VERROUILLE, 3, T0 + timedelta(minutes=30), T0 + timedelta(minutes=29, seconds=59),
     "Verrouillé : encore 1 min"),
    (CompteStatut.VERROUILLE, 3, T0 + timedelta(minutes=30), T0 + timedelta(minutes=30), "Actif (verrouillage expiré)"),
    (CompteStatut.VERROUILLE, 3, None, T0, "Verrouillé : déblocage par l'assistance uniquement"),
    (CompteStatut.DESACTIVE, 0, None, T0, "Désactivé"),
])
def test_etat_verrouillage_for_the_accounts_grid_R68(statut, failed, until, now, expected):
    compte = Compte(statut=statut, failed_attempts=failed, locked_until=until)
    assert wf.etat_verrouillage(compte, now) == expected
