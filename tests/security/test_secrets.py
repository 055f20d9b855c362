"""Issue 12, finding 1 (account takeover through the mails grid): no secret in clear where a screen, an
export, a log or a database reader can see it (R69, R65).

Replayed as the attacker would: anyone asks a reset for `admin` on the public form; the support desk
then reads every grid it can open (mails list, detail, export; audit; jobs; bulk runs). Nothing it
reads may reset admin's password, and the real token (taken from the mail the SMTP server received)
appears in no response, no log line and no column of any table.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.request
from datetime import timedelta

import sqlalchemy as sa

from backoffice import models as m
from backoffice.workflows import comptes as comptes_wf
from tests.auth.conftest import T0, post_form
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.jobs.conftest import free_port, jobs_app, redis_conn, smtp_server  # noqa: F401  (fixtures)
from tests.security.conftest import RoleClient

RESET_RE = re.compile(r"/password/reset/([A-Za-z0-9_\-%.~]+)")
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-]{20,128}")


def links_in(message) -> list[str]:
    """The reset tokens in a mail as the SMTP server received it."""
    return RESET_RE.findall(message.get_content())


def tokens_in_outbox_mails(app, inbox, template=None) -> list[str]:
    return [t for msg in inbox.messages for t in links_in(msg)
            if template is None or msg["Subject"] == template]


def use_smtp(app, smtp):
    port, inbox = smtp
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, JOBS_MODE="inline")
    return inbox


def tables_containing(db, needle: str) -> list[str]:
    """Every table of the schema with a row whose text form holds `needle` (all columns at once)."""
    db.session.rollback()
    names = db.session.scalars(sa.text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE'")).all()
    hits = []
    for name in names:
        found = db.session.execute(sa.text(
            f'SELECT 1 FROM "{name}" AS r WHERE strpos(r::text, :n) > 0 LIMIT 1'), {"n": needle}).first()
        if found:
            hits.append(name)
    db.session.rollback()
    return hits


def candidates(bodies: list[str]) -> set[str]:
    """Every token-like string of the pages: reset-link paths first, then any long url-safe word."""
    out = set()
    for body in bodies:
        out.update(RESET_RE.findall(body))
        out.update(TOKEN_LIKE.findall(body))
    return out


def ids_in(body: str, endpoint: str) -> list[str]:
    return list(dict.fromkeys(re.findall(rf"/admin/{endpoint}/details/\?id=(\d+)", body)))


def browse(client, endpoint: str, *, pages: int = 20) -> list[str]:
    """The list, the detail of its first rows, the CSV and XLSX exports (whatever the role may open)."""
    bodies = []
    resp = client.get(f"/admin/{endpoint}/")
    bodies.append(resp.get_data(as_text=True))
    for ident in ids_in(bodies[-1], endpoint)[:pages]:
        bodies.append(client.get(f"/admin/{endpoint}/details/?id={ident}").get_data(as_text=True))
    for kind in ("csv", "xlsx"):
        resp = client.get(f"/admin/{endpoint}/export/{kind}/")
        data = resp.get_data()
        if kind == "xlsx" and resp.status_code == 200:
            import io
            import zipfile
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        bodies.append(data.decode("utf-8", "replace"))
    return bodies


def test_support_cannot_take_over_admin_through_a_reset_mail_it_can_read(app, db, ref, smtp_server, caplog):
    """Finding 1: the public form, then everything the support desk can read; nothing resets admin."""
    caplog.set_level(logging.DEBUG)
    inbox = use_smtp(app, smtp_server)
    app.config["NOW_OVERRIDE"] = T0
    anon = app.test_client()
    resp = post_form(anon, "/password/forgot", {"username": "admin"})
    assert resp.status_code == 302
    (real,) = tokens_in_outbox_mails(app, inbox)  # the mail as sent: the token the admin would click
    assert len(real) >= 40

    support, admin = RoleClient(app, "support"), RoleClient(app, "admin")
    bodies = []
    for endpoint in ("mail_outbox", "audit_event", "job_outbox", "bulk_run"):
        bodies += browse(support, endpoint)
    # the admin reads the same grids (jobs, exports): a second admin must not take over the first either
    for endpoint in ("mail_outbox", "audit_event", "job_outbox"):
        bodies += browse(admin, endpoint)
    assert any("reinitialisation_mot_de_passe" in b for b in bodies)  # the mail is there, and was read

    # the real token is nowhere: responses, logs, any column of any table
    assert not [b for b in bodies if real in b]
    assert real not in caplog.text
    assert tables_containing(db, real) == []

    # every token-like string the pages gave: none opens a reset page, none resets admin's password
    attacker = app.test_client()
    csrf = csrf_from(attacker.get("/password/forgot").get_data(as_text=True))
    for cand in sorted(candidates(bodies)):
        assert comptes_wf.jeton_valide(db.session, cand, now=T0 + timedelta(minutes=1)) is None, cand
        if attacker.get(f"/password/reset/{cand}").status_code != 400:
            resp = attacker.post(f"/password/reset/{cand}", data={
                "csrf_token": csrf, "new_password": "Pris-par-le-support-1!",
                "confirm_password": "Pris-par-le-support-1!"})
            raise AssertionError(f"un jeton lu dans une grille ouvre la réinitialisation ({resp.status_code})")
    db.session.expire_all()
    admin_row = db.session.scalars(sa.select(m.Compte).where(m.Compte.login == "admin")).one()
    assert admin_row.password_changed_at is None

    # and the link really was live: its owner (the mailbox) can use it, once
    owner = app.test_client()
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=2)
    resp = post_form(owner, f"/password/reset/{real}", {"new_password": "Nouvelle-phrase-2026!",
                                                        "confirm_password": "Nouvelle-phrase-2026!"},
                     page="/password/forgot")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"


def test_a_failed_reset_mail_resent_from_the_grid_still_carries_a_working_link(app, db, ref, smtp_server):
    """The mails grid's « Renvoyer »: the link is derived again at send time, the same live token."""
    from backoffice.jobs.mail import MAX_TENTATIVES, send_pending_mail
    port, inbox = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), JOBS_MODE="inline")  # nobody listens
    app.config["NOW_OVERRIDE"] = T0
    post_form(app.test_client(), "/password/forgot", {"username": "conseiller"})
    for k in range(1, MAX_TENTATIVES):
        app.config["NOW_OVERRIDE"] = T0 + timedelta(hours=k)
        send_pending_mail(raise_on_failure=False)
    db.session.expire_all()
    mail = db.session.scalars(sa.select(m.MailOutbox)).one()
    assert mail.statut.value == "echec"

    app.config["MAIL_PORT"] = port  # the SMTP server is back
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=5)  # the link itself lasts 30 minutes
    support = RoleClient(app, "support")
    page = support.get("/admin/mail_outbox/").get_data(as_text=True)
    resp = support.post("/admin/mail_outbox/workflow/renvoyer/row",
                        data={"id": mail.id, "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    (token,) = tokens_in_outbox_mails(app, inbox)
    assert comptes_wf.jeton_valide(db.session, token, now=T0 + timedelta(minutes=6)) is not None
    assert tables_containing(db, token) == []


def test_the_reset_link_in_the_access_log_is_masked(app, db, ref, caplog):
    """A real HTTP server (werkzeug, as `backoffice demo` serves): its access log never holds a token."""
    from werkzeug.serving import make_server

    app.config["NOW_OVERRIDE"] = T0
    caplog.set_level(logging.INFO, logger="werkzeug")
    token = "x" * 20 + "SecretJetonDeTest" + "y" * 10
    server = make_server("127.0.0.1", free_port(), app)  # one thread: logged before shutdown returns
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/password/reset/{token}?a=1", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
    assert "/password/reset/" in caplog.text  # the request was logged…
    assert "SecretJetonDeTest" not in caplog.text  # …without its token



def test_migration_0008_removes_the_links_kept_in_clear_and_kills_their_tokens(app, db, ref):
    """Rows written before the fix: the link leaves the outbox, the token dies, an unsent mail says why."""
    import importlib

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from backoffice.models.enums import MailStatut
    compte = ref.comptes["conseiller"]
    jeton = m.JetonCompte(compte_id=compte.id, usage="reinitialisation", token_hash=comptes_wf.hash_jeton("ancien" * 8),
                          expires_at=T0 + timedelta(minutes=30))
    db.session.add(jeton)
    for cle, statut in (("ancien-1", MailStatut.EN_FILE), ("ancien-2", MailStatut.ENVOYE)):
        db.session.add(m.MailOutbox(cle=cle, destinataire=compte.email, template="reinitialisation_mot_de_passe",
                                    contexte={"prenom": "Camille", "lien": f"http://x/password/reset/{'ancien' * 8}"},
                                    statut=statut))
    db.session.commit()
    module = importlib.import_module("backoffice.migrations.versions.0008_secrets")
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.upgrade()
    db.session.expire_all()
    mails = {x.cle: x for x in db.session.scalars(sa.select(m.MailOutbox))}
    assert all("lien" not in x.contexte and x.contexte["prenom"] == "Camille" for x in mails.values())
    assert (mails["ancien-1"].statut, mails["ancien-2"].statut) == (MailStatut.ECHEC, MailStatut.ENVOYE)
    assert "nouveau lien" in mails["ancien-1"].derniere_erreur
    assert db.session.get(m.JetonCompte, jeton.id).used_at is not None
    assert tables_containing(db, "ancien" * 8) == []
    from backoffice.jobs.mail import render
    assert "demandez-en un nouveau" in render(mails["ancien-1"].template, mails["ancien-1"].contexte)[1]


def test_a_worker_sends_the_reset_link_it_derives_and_redis_never_holds_the_token(jobs_app, db, ref, smtp_server,
                                                                                 redis_conn):
    """Through Redis and a real `backoffice worker`: the job derives the same live token from the
    reference (same SECRET_KEY), and neither the RQ job (arguments, description) nor Redis holds it."""
    import zlib

    from tests.jobs.conftest import run_worker_burst
    port, inbox = smtp_server
    jobs_app.config["NOW_OVERRIDE"] = T0
    post_form(jobs_app.test_client(), "/password/forgot", {"username": "conseiller"})
    assert redis_conn.llen("rq:queue:mail") == 1
    dumps = []
    for key in redis_conn.keys("*"):
        kind = redis_conn.type(key)
        if kind == b"hash":
            dumps += [v for v in redis_conn.hgetall(key).values()]
    run_worker_burst(jobs_app, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, PUBLIC_URL="https://bo.agence.example.fr")
    (msg,) = inbox.messages
    assert "https://bo.agence.example.fr/password/reset/" in msg.get_content()
    (token,) = links_in(msg)
    assert comptes_wf.jeton_valide(db.session, token, now=T0 + timedelta(minutes=1)) is not None
    for raw in dumps:
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        assert token.encode() not in raw
    assert tables_containing(db, token) == []
