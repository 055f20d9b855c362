"""Account transitions for the support desk: unlock (one or a filtered set), deactivate, force a change."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from backoffice.models import Compte
from backoffice.models.enums import CompteStatut as S, Role
from backoffice.passwords import hash_password
from backoffice.workflows import Selection, run
from backoffice.workflows.compte_transitions import COMPTE
from backoffice.workflows.errors import RoleRefused

NOW = datetime(2025, 5, 2, 10, 0)


def locked(db, ref, n, minutes_ago):
    ids = []
    for k in range(n):
        c = Compte(login=f"verrou{minutes_ago}-{k}", email=f"v{k}@x.fr", nom="Verrou", prenom="Vic",
                   role=Role.CONSEILLER, structure_id=ref.nord.id, password_hash=hash_password("x"),
                   statut=S.VERROUILLE, failed_attempts=3, locked_at=NOW - timedelta(minutes=minutes_ago),
                   locked_until=NOW + timedelta(minutes=30 - minutes_ago), must_change_password=False)
        db.session.add(c)
        db.session.flush()
        ids.append(c.id)
    db.session.commit()
    return ids


def test_support_unlocks_every_account_locked_for_more_than_10_minutes(db, ref):
    old = locked(db, ref, 3, minutes_ago=15)
    recent = locked(db, ref, 2, minutes_ago=5)
    query = sa.select(Compte.id).where(Compte.statut == S.VERROUILLE,
                                       Compte.locked_at < NOW - timedelta(minutes=10))
    report = run(db.session, COMPTE, "deverrouiller", Selection.of_query(query), ref.comptes["support"], now=NOW)
    db.session.commit()
    assert report.changed == 3
    for i in old:
        c = db.session.get(Compte, i)
        assert (c.statut, c.failed_attempts, c.locked_until) == (S.ACTIF, 0, None)
    assert all(db.session.get(Compte, i).statut == S.VERROUILLE for i in recent)


def test_a_conseiller_cannot_unlock_accounts(db, ref):
    ids = locked(db, ref, 1, minutes_ago=15)
    with pytest.raises(RoleRefused):
        run(db.session, COMPTE, "deverrouiller", Selection.of_ids(ids), ref.comptes["conseiller"], now=NOW)


def test_forcing_a_password_change_revokes_sessions_and_is_not_repeated(db, ref):
    target = ref.comptes["conseiller"]
    generation = target.session_generation
    first = run(db.session, COMPTE, "forcer_changement", Selection.of_ids([target.id]), ref.comptes["support"], now=NOW)
    db.session.commit()
    second = run(db.session, COMPTE, "forcer_changement", Selection.of_ids([target.id]), ref.comptes["support"], now=NOW)
    db.session.commit()
    c = db.session.get(Compte, target.id)
    assert first.changed == 1 and second.changed == 0
    assert c.must_change_password and c.session_generation == generation + 1


def test_support_cannot_deactivate_their_own_account(db, ref):
    me = ref.comptes["support"]
    report = run(db.session, COMPTE, "desactiver", Selection.of_ids([me.id]), me, now=NOW)
    assert report.changed == 0 and "action impossible sur votre propre compte" in report.refused
