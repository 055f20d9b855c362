"""Issue 12, finding 9: account actions follow the role hierarchy, over HTTP as the desk would click.

The support desk acts on the staff and partner accounts below admin (unlock, deactivate, reactivate,
force a password change); an admin acts on every account; nobody deactivates their own. A workflow
guard (workflows.compte_transitions), so the row buttons and the bulk actions answer the same.
Also: Strict-Transport-Security on every answer once the session cookie is HTTPS-only."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from backoffice.models import Compte
from backoffice.models.enums import CompteStatut as S
from backoffice.workflows.compte_transitions import MSG_HIERARCHIE
from tests.auth.conftest import T0
from tests.conftest import csrf_from
from tests.security.conftest import RoleClient


def _state(db, login):
    db.session.expire_all()
    c = db.session.scalars(sa.select(Compte).where(Compte.login == login)).one()
    return c.statut, c.must_change_password, c.session_generation


def _flashes(client) -> str:
    return unescape(client.get("/admin/compte/").get_data(as_text=True))


def _row(client, transition, compte):
    page = client.get("/admin/compte/").get_data(as_text=True)
    return client.post(f"/admin/compte/workflow/{transition}/row",
                       data={"id": compte.id, "version": compte.version, "csrf_token": csrf_from(page)})


def _bulk(client, transition, ids):
    """Flask-Admin's action menu on the ticked rows, then the confirmation of the dry run."""
    page = client.get("/admin/compte/").get_data(as_text=True)
    resp = client.post("/admin/compte/action/", data={"action": f"wf_{transition}", "rowid": [str(i) for i in ids],
                                                      "csrf_token": csrf_from(page)})
    assert resp.status_code == 302, resp.status_code
    run_url = resp.headers["Location"]
    preview = unescape(client.get(run_url).get_data(as_text=True))
    resp = client.post(run_url, data={"csrf_token": csrf_from(preview)})
    assert resp.status_code == 302
    return preview, unescape(client.get(run_url).get_data(as_text=True))


def test_support_cannot_deactivate_unlock_or_force_a_change_on_an_admin_row_buttons(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    admin = ref.comptes["admin"]
    support = RoleClient(app, "support")
    before = _state(db, "admin")

    for transition in ("desactiver", "forcer_changement"):
        assert _row(support, transition, admin).status_code == 302
        assert _state(db, "admin") == before, transition
        assert MSG_HIERARCHIE in _flashes(support)

    # a locked admin stays locked for the desk; a deactivated one stays deactivated
    for statut, transition in ((S.VERROUILLE, "deverrouiller"), (S.DESACTIVE, "reactiver")):
        db.session.execute(sa.update(Compte).where(Compte.id == admin.id).values(statut=statut))
        db.session.commit()
        db.session.refresh(admin)
        _row(support, transition, admin)
        assert _state(db, "admin")[0] == statut, transition
        assert MSG_HIERARCHIE in _flashes(support)


def test_the_desk_does_not_send_an_admin_a_reset_link_either(app, db, ref):
    import pytest

    from backoffice.workflows import comptes as wf
    from backoffice.workflows.errors import TransitionRefused
    with pytest.raises(TransitionRefused, match="Seul un administrateur"):
        wf.declencher_reinitialisation(db.session, ref.comptes["admin"].id, ref.comptes["support"].id, now=T0)
    wf.declencher_reinitialisation(db.session, ref.comptes["support"].id, ref.comptes["admin"].id, now=T0)


def test_support_acts_on_accounts_below_admin_and_an_admin_on_every_other_account(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    support, admin = RoleClient(app, "support"), RoleClient(app, "admin")
    _row(support, "forcer_changement", ref.comptes["conseiller"])
    assert _state(db, "conseiller")[1] is True
    _row(support, "desactiver", ref.comptes["comptable"])
    assert _state(db, "comptable")[0] == S.DESACTIVE

    # an admin acts on the support desk, and on another admin
    second = Compte(login="admin2", email="admin2@x.fr", nom="Deux", prenom="Ada", role=ref.comptes["admin"].role,
                    structure_id=ref.comptes["admin"].structure_id, password_hash=ref.comptes["admin"].password_hash,
                    must_change_password=False)
    db.session.add(second)
    db.session.commit()
    _row(admin, "desactiver", ref.comptes["support"])
    assert _state(db, "support")[0] == S.DESACTIVE
    _row(admin, "forcer_changement", second)
    assert _state(db, "admin2")[1] is True


def test_nobody_deactivates_their_own_account(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    for login in ("admin", "support"):
        client = RoleClient(app, login)
        before = _state(db, login)
        _row(client, "desactiver", ref.comptes[login])
        assert _state(db, login) == before
        assert "action impossible sur votre propre compte" in _flashes(client)


def test_the_hierarchy_holds_in_bulk_the_admin_rows_are_refused_with_the_reason(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    support = RoleClient(app, "support")
    ids = [ref.comptes[k].id for k in ("admin", "conseiller", "conseiller2", "support")]
    preview, done = _bulk(support, "desactiver", ids)
    assert MSG_HIERARCHIE in preview  # the dry run says so before anything happens
    assert re.search(r"2 ligne\(s\) modifiées", done) and MSG_HIERARCHIE in done
    assert [_state(db, k)[0] for k in ("admin", "conseiller", "conseiller2", "support")] == \
        [S.ACTIF, S.DESACTIVE, S.DESACTIVE, S.ACTIF]


def test_hsts_on_every_answer_over_https_and_never_over_plain_http(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    anon = app.test_client()
    urls = ["/login", "/password/forgot", "/admin/", "/password/reset/inconnu", "/nulle-part",
            "/admin/static/admin/js/helpers.js?v=1.0.0"]
    for url in urls:
        assert "Strict-Transport-Security" not in anon.get(url).headers, url
    support = RoleClient(app, "support")
    app.config["SESSION_COOKIE_SECURE"] = True
    for client, url in [(anon, u) for u in urls] + [(support, "/admin/job_outbox/"), (support, "/admin/compte/")]:
        resp = client.get(url, base_url="https://localhost")
        assert resp.headers.get("Strict-Transport-Security") == "max-age=31536000; includeSubDomains", url
