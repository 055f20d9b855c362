"""« Boîte mail de démonstration » (issue 19): `backoffice demo` receives its own mails on a local SMTP sink
and shows them to admin and support, so a recovery, unlock or refusal mail can be read in the demo; the
screen does not exist outside the demo (reset links are secrets, issue 12)."""

from __future__ import annotations

import html
import re
import smtplib
import time
from email.message import EmailMessage

import pytest

from tests.jobs.conftest import smtp_server  # noqa: F401  (fixture)
from tests.seeds.test_demo import REDIS_URL, Demo, demo_env, redis_db9  # noqa: F401  (fixture)

RESET_LINK = re.compile(r'href="(http://127\.0\.0\.1:\d+/password/reset/[A-Za-z0-9_\-%.~]+)"')


def _wait_for(demo: Demo, opener, path: str, needle: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while True:
        page = opener.open(f"{demo.base}{path}").read().decode()
        if needle in page or time.time() > deadline:
            return page
        time.sleep(0.5)


@pytest.mark.redis
@pytest.mark.smtp
def test_a_password_recovery_mail_reaches_the_demo_mailbox_page_R69(tmp_path, redis_db9):
    """A new user's demo (its SQLite, its worker on Redis, its mail sink): `conseiller` asks for a reset link
    on the public form; admin reads the mail, and its link, in the demo mailbox; the link works."""
    demo = Demo(tmp_path, demo_env(tmp_path, REDIS_URL=REDIS_URL))
    try:
        demo.wait_ready()
        assert "Jobs : worker RQ lancé" in demo.output()
        anonymous = demo.opener()
        demo.post_form(anonymous, "/password/forgot", {"username": "conseiller"})

        admin = demo.opener("admin")
        listing = _wait_for(demo, admin, "/admin/boite-mail/", "Réinitialisation de votre mot de passe")
        assert "Boîte mail de démonstration" in listing
        assert "Réinitialisation de votre mot de passe" in listing, demo.output()
        mail_url = re.search(r'href="(/admin/boite-mail/[0-9a-f-]+)"', listing).group(1)
        message = admin.open(f"{demo.base}{mail_url}").read().decode()
        assert "Bonjour" in message and "valable 30 minutes" in message
        link = html.unescape(RESET_LINK.search(message).group(1))
        assert link.startswith(demo.base)  # PUBLIC_URL of the demo: its own --port
        form = demo.opener().open(link).read().decode()
        assert "nouveau mot de passe" in form.lower()

        # the menu shows it to admin and support, not to the others
        assert "/admin/boite-mail/" in admin.open(f"{demo.base}/admin/").read().decode()
        support = demo.opener("support")
        assert support.open(f"{demo.base}/admin/boite-mail/").status == 200
        siege = demo.opener("siege")
        assert "/admin/boite-mail/" not in siege.open(f"{demo.base}/admin/").read().decode()
        with pytest.raises(urllib_error()) as refused:
            siege.open(f"{demo.base}/admin/boite-mail/")
        assert refused.value.code == 403
    finally:
        out = demo.stop()
    assert "Traceback" not in out, out
    assert list((tmp_path / "boite").glob("*.eml"))  # the sink's files, where the demo said


@pytest.mark.smtp
def test_with_mail_server_set_the_demo_sends_there_and_has_no_mailbox_screen(tmp_path, smtp_server):
    port, inbox = smtp_server
    demo = Demo(tmp_path, demo_env(tmp_path, JOBS_MODE="inline", MAIL_SERVER="127.0.0.1", MAIL_PORT=port))
    try:
        demo.wait_ready()
        demo.post_form(demo.opener(), "/password/forgot", {"username": "conseiller"})
        # (with the demo data's own mails, relayed by the same request)
        assert "Réinitialisation de votre mot de passe" in [m["Subject"] for m in inbox.messages]
        with pytest.raises(urllib_error()) as absent:
            demo.opener("admin").open(f"{demo.base}/admin/boite-mail/")
        assert absent.value.code == 404
    finally:
        out = demo.stop()
    assert f"Mails : envoyés au serveur SMTP 127.0.0.1:{port}" in out and "Mails : serveur SMTP de démo" not in out
    assert not (tmp_path / "boite").exists()


def urllib_error():
    import urllib.error
    return urllib.error.HTTPError


# -- in-process: the screen exists only with the demo's sink, is escaped and stays in its folder ---------------

@pytest.fixture
def demo_app(app, database_url, tmp_path):
    """A second app as `backoffice demo` builds it (DEMO_MAILBOX_DIR set), on the test database."""
    from backoffice import create_app
    from backoffice.admin_views import menu
    from backoffice.config import TestConfig
    config = TestConfig.from_env()
    config.update(SQLALCHEMY_DATABASE_URI=database_url, DEMO_MAILBOX_DIR=str(tmp_path / "boite"))
    menu._CACHE.clear()  # the menu is kept per role and screen, whatever the app: not across these two
    yield create_app(config)
    menu._CACHE.clear()


def _login(app, login):
    from tests.conftest import DEMO_PASSWORD, csrf_from
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": login, "password": DEMO_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def test_the_demo_mailbox_does_not_exist_outside_the_demo(app, ref, login_as):
    """The test (and production) configuration has no demo sink: no screen, no menu entry, for anyone."""
    from backoffice.config import Config
    assert Config.DEMO_MAILBOX_DIR is None and app.config.get("DEMO_MAILBOX_DIR") is None
    assert "boite_mail_demo" not in {v.endpoint for v in app.extensions["admin"][0]._views}
    admin = login_as("admin")
    assert admin.get("/admin/boite-mail/").status_code == 404
    assert "boite-mail" not in admin.get("/admin/").get_data(as_text=True)


def test_the_demo_mailbox_receives_through_the_sink_and_escapes_what_it_shows(demo_app, ref, tmp_path):
    from backoffice.cli import DemoMailSink
    sink = DemoMailSink(tmp_path / "boite").start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"] = "backoffice@agence.example.fr", "<script>alert(1)</script>@example.fr"
        msg["Subject"] = "Objet <img src=x onerror=alert(2)>"
        msg.set_content('Bonjour,\n<script>alert(3)</script>\nhttp://127.0.0.1:5000/password/reset/abc?x="><b>\n')
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
            smtp.send_message(msg)
    finally:
        sink.stop()
    files = list((tmp_path / "boite").glob("*.eml"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0  # mails hold secrets: owner only
    assert (tmp_path / "boite").stat().st_mode & 0o077 == 0

    admin = _login(demo_app, "admin")
    listing = admin.get("/admin/boite-mail/")
    assert listing.status_code == 200 and listing.headers["Cache-Control"] == "no-store"
    body = listing.get_data(as_text=True)
    assert "<script>alert(1)" not in body and "<img src=x" not in body and "&lt;img src=x" in body
    url = re.search(r'href="(/admin/boite-mail/[0-9a-f-]+)"', body).group(1)
    page = admin.get(url).get_data(as_text=True)
    assert "<script>alert(3)" not in page and "&lt;script&gt;alert(3)" in page and "<b>" not in page
    # the address is a link, what follows it (a quote, markup) stays text
    assert '<a href="http://127.0.0.1:5000/password/reset/abc?x=" rel="noreferrer">' in page
    assert "&#34;&gt;&lt;b&gt;" in page

    # only the sink's own file names: no path leaves the folder
    for bad in ("/admin/boite-mail/..%2F..%2Fsecret_key", "/admin/boite-mail/../../etc/passwd",
                "/admin/boite-mail/1234", "/admin/boite-mail/%2Fetc%2Fpasswd"):
        assert admin.get(bad).status_code == 404, bad

    assert _login(demo_app, "support").get("/admin/boite-mail/").status_code == 200
    for role in ("siege", "manager", "comptable", "conseiller"):
        assert _login(demo_app, role).get("/admin/boite-mail/").status_code == 403, role
    assert demo_app.test_client().get("/admin/boite-mail/").status_code == 302  # to the login page
