"""Issue 12: with live secrets in the database (reset links, a new partner user's first-password link, an
Activité partielle secret code R71), every role walks every screen it may open (each Flask-Admin view
registered in the app: list, the first records, create/edit forms, CSV/XLSX exports when allowed) and
no answer holds a live token, a password hash (argon2) or a secret code. Bounded: 3 records per view."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import sqlalchemy as sa

from backoffice import models as m
from backoffice.policy import POLICY
from backoffice.workflows import Selection, run
from backoffice.workflows import comptes as comptes_wf
from backoffice.workflows.habilitations import HABILITATION
from tests.admin.data import make_everything
from tests.auth.conftest import T0, post_form
from tests.jobs.conftest import smtp_server  # noqa: F401  (fixture)
from tests.security.conftest import ROLES, RoleClient
from tests.security.test_secrets import RESET_RE, tables_containing, use_smtp

PAR_VUE = 3  # records opened per view
CODE_SECRET = "QZ7K4M2P9X"  # R71: 10 characters, on the decision notice only
ARGON2 = re.compile(r"\$argon2(id|i|d)\$")


def _bodies(resp) -> str:
    data = resp.get_data()
    if data[:2] == b"PK":  # an XLSX export: the text of its parts
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = b"".join(z.read(n) for n in z.namelist())
    return data.decode("utf-8", "replace")


def _walk(app, client, role) -> dict[str, str]:
    """url -> body of every screen `role` may open (bounded)."""
    seen = {}

    def get(url):
        if url not in seen:
            seen[url] = _bodies(client.get(url))
        return seen[url]

    get("/admin/")
    for view in app.extensions["admin"][0]._views:
        key = getattr(view, "policy_endpoint", view.endpoint)
        policy = POLICY.get(key)
        if policy is None or role not in policy.view:
            continue
        base = view.url.rstrip("/")
        listing = get(base + "/")
        if not hasattr(view, "model"):
            continue
        ids = list(dict.fromkeys(re.findall(rf"{re.escape(base)}/details/\?id=(\d+)", listing)))[:PAR_VUE]
        if not ids:
            ids = list(dict.fromkeys(re.findall(r"[?&]id=(\d+)", listing)))[:PAR_VUE]
        for ident in ids:
            get(f"{base}/details/?id={ident}")
        if role in policy.edit and ids and view.can_edit:
            get(f"{base}/edit/?id={ids[0]}")
        if role in policy.create and view.can_create:
            get(f"{base}/new/")
        if role in policy.export and view.can_export:
            for kind in getattr(view, "export_types", ["csv"]):
                get(f"{base}/export/{kind}/")
    return seen


def test_no_screen_of_any_role_shows_a_live_token_a_password_hash_or_a_secret_code(app, db, ref, smtp_server):
    inbox = use_smtp(app, smtp_server)
    app.config["NOW_OVERRIDE"] = T0
    s = db.session
    sample = make_everything(s, ref)
    # the sample's partner user logs in with the demo password; the AP authorisation got its code (R71)
    partenaire = s.get(m.CompteEtablissement, sample.nord("compte_etablissement")).compte
    partenaire.password_hash = ref.comptes["admin"].password_hash
    # (issue 12/14: only the code's keyed digest is stored)
    from backoffice.workflows.activite_partielle import hash_code
    s.get(m.AutorisationAP, sample.nord("autorisation_ap")).code_secret_hash = hash_code(CODE_SECRET)
    s.commit()

    # live secrets: two reset links asked on the public form, a first-password link granted by the siège
    for login in ("admin", "conseiller"):
        assert post_form(app.test_client(), "/password/forgot", {"username": login}).status_code == 302
    report = run(s, HABILITATION, "accorder", Selection.of_ids([sample.nord("demande_habilitation")]),
                 ref.comptes["siege"], now=T0)
    s.commit()
    assert report.changed == 1
    from backoffice.jobs.mail import send_pending_mail
    send_pending_mail()
    tokens = [t for msg in inbox.messages for t in RESET_RE.findall(msg.get_content())]
    assert len(tokens) == 3
    secrets_ = {f"jeton {i}": t for i, t in enumerate(tokens)}
    secrets_["code secret AP"] = CODE_SECRET
    secrets_["SECRET_KEY"] = app.config["SECRET_KEY"]

    clients = {role: RoleClient(app, role) for role in ROLES}
    clients["partenaire"] = RoleClient(app, partenaire.login)
    leaks, pages = [], 0
    for role, client in clients.items():
        for url, body in _walk(app, client, role).items():
            pages += 1
            leaks += [(role, url, name) for name, secret in secrets_.items() if secret in body]
            if ARGON2.search(body):
                leaks.append((role, url, "empreinte argon2"))
    assert leaks == []
    assert pages > 200  # the walk really went through the screens

    # the secrets were live during the walk, and none is in the database in clear
    later = T0 + timedelta(minutes=1)
    assert all(comptes_wf.jeton_valide(s, t, now=later) is not None for t in tokens)
    assert [t for t in tokens if tables_containing(db, t)] == []
    assert s.scalar(sa.select(sa.func.count()).select_from(m.MailOutbox)
                    .where(sa.cast(m.MailOutbox.contexte, sa.Text).like("%/password/reset/%"))) == 0
