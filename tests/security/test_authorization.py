"""Every route × every role against the policy table (deny by default), CSRF on every POST, mass
assignment refused by the generated forms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter
from flask import Response

from backoffice import models as m
from backoffice.policy import POLICY
from backoffice.security import DROIT_PAR_METHODE, ROUTES_AUTHENTIFIEES, ROUTES_PUBLIQUES
from tests.conftest import csrf_from
from tests.security.conftest import ROLES, RoleClient

GATE_PASSED = 299  # answered by a hook placed after the guard: the view itself never runs


def _url(rule) -> str:
    values = {}
    for arg, conv in rule._converters.items():
        values[arg] = 999999 if isinstance(conv, IntegerConverter) else (
            "csv" if arg == "export_type" else "x")
    path = rule.build(values, append_unknown=False)[1]
    return path + ("?id=999999" if rule.endpoint.endswith(("details_view", "edit_view")) else "")


def _expected(app, rule, role) -> str:
    """'public', 'login' (any logged-in role), 'allow' or 'deny' for this role."""
    endpoint = rule.endpoint
    if endpoint in ROUTES_PUBLIQUES:
        return "public"
    if endpoint in ROUTES_AUTHENTIFIEES:
        return "login"
    blueprint, _, method = endpoint.partition(".")
    views = {v.blueprint.name: v for v in app.extensions["admin"][0]._views if v.blueprint is not None}
    assert blueprint in views, f"route sans règle : {endpoint} ({rule.rule})"
    key = getattr(views[blueprint], "policy_endpoint", views[blueprint].endpoint)
    policy = POLICY[key]  # KeyError here = a Flask-Admin view without a policy entry
    right = DROIT_PAR_METHODE.get(method, "view")
    return "allow" if role in policy.view and role in getattr(policy, right) else "deny"


@pytest.fixture
def gate_probe(app):
    """While active, a request carrying X-Sonde that gets through the guard answers 299."""
    from flask import request

    def probe():
        if request.headers.get("X-Sonde"):
            return Response(status=GATE_PASSED)
        return None
    funcs = app.before_request_funcs.setdefault(None, [])
    funcs.append(probe)
    try:
        yield
    finally:
        funcs.remove(probe)


def test_every_route_for_every_role_follows_the_policy_table(app, db, ref, gate_probe):
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False  # ~1,000 refusals are audited: seal once, later
    clients = {role: RoleClient(app, role) for role in ROLES}
    clients[None] = RoleClient(app, None)
    rules = [r for r in app.url_map.iter_rules() if not r.endpoint.endswith("static")]
    assert len(rules) > 300
    checked, refused = 0, 0
    for rule in rules:
        method = "GET" if "GET" in rule.methods else "POST"
        url = _url(rule)
        for role, c in clients.items():
            data = {"csrf_token": c.token} if method == "POST" else None
            resp = c.open(url, method=method, data=data, headers={"X-Sonde": "1"})
            expected = "public" if rule.endpoint in ROUTES_PUBLIQUES else (
                "login" if role is None else _expected(app, rule, role))
            where = (rule.endpoint, role, resp.status_code)
            if expected == "public":
                assert resp.status_code == GATE_PASSED, where
            elif role is None:
                assert resp.status_code == 302 and "/login" in resp.headers["Location"], where
            elif expected in ("allow", "login"):
                assert resp.status_code == GATE_PASSED, where
            else:
                assert resp.status_code == 403, where
                refused += 1
            checked += 1
    assert checked == len(rules) * 7
    audited = db.session.scalar(sa.select(sa.func.count()).select_from(m.AuditEvent)
                                .where(m.AuditEvent.action == "acces_refuse"))
    assert audited == refused > 500  # every refusal is in the journal


def test_a_route_or_a_view_without_a_policy_entry_is_denied(database_url, db, ref):
    """A fresh app with a new ModelView, a new BaseView and a plain route, none in the policy."""
    from flask_admin import BaseView, expose

    from backoffice import create_app
    from backoffice.admin_views.base import SecureModelView
    from backoffice.config import TestConfig
    from backoffice.extensions import db as ext_db

    config = TestConfig.from_env()
    config["SQLALCHEMY_DATABASE_URI"] = database_url
    other = create_app(config)

    class Libre(BaseView):  # is_accessible() is True by default in Flask-Admin
        @expose("/")
        def index(self):
            return "ouvert"

    admin = other.extensions["admin"][0]
    admin.add_view(SecureModelView(m.Structure, ext_db.session, endpoint="vue_sans_regle", name="Sans règle"))
    admin.add_view(Libre(name="Libre", endpoint="vue_libre", url="/admin/libre"))
    other.add_url_rule("/rapport-secret", "rapport_secret", lambda: "secret")

    c = RoleClient(other, "admin")
    for url in ("/admin/vue_sans_regle/", "/admin/vue_sans_regle/new/", "/admin/vue_sans_regle/export/csv/",
                "/admin/libre/", "/rapport-secret"):
        resp = c.get(url)
        assert resp.status_code == 403, url
        assert "Accès refusé" in resp.get_data(as_text=True)
    resp = RoleClient(other, None).get("/rapport-secret")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# ---- CSRF ----------------------------------------------------------------------------------------

def _counts(db) -> dict:
    db.session.remove()
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
            for t in db.metadata.sorted_tables}


def test_every_post_route_refuses_a_request_without_csrf_token_and_writes_nothing(app, db, ref):
    from tests.admin.data import make_everything
    sample = make_everything(db.session, ref)
    db.session.commit()
    ident, siege_id = str(sample.nord("motif_sortie")), str(ref.comptes["siege"].id)
    c = RoleClient(app, "admin")
    before = _counts(db)
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) > 150
    for rule in posts:
        url = _url(rule)
        for data in ({}, {"csrf_token": "faux"}, {"csrf_token": c.token + "x"}):
            resp = c.post(url, data=data)
            assert resp.status_code == 400, (rule.endpoint, data, resp.status_code)
    # Flask-Admin's bulk action, delete and inline (x-editable) update, on real rows
    for url, data in (("/admin/motif_sortie/action/", {"action": "delete", "rowid": ident}),
                      ("/admin/motif_sortie/delete/", {"id": ident}),
                      ("/admin/motif_sortie/ajax/update/", {"list_form_pk": ident, "libelle": "Modifié"}),
                      ("/admin/compte/workflow/desactiver/row", {"id": siege_id, "version": "1"})):
        assert c.post(url, data=data).status_code == 400, url
        assert c.post(url, data=data, headers={"X-CSRFToken": "faux"}).status_code == 400, url
    assert _counts(db) == before


# ---- mass assignment ------------------------------------------------------------------------------

PROTECTED = {"statut", "version", "approbateur_id", "approbateur", "demandeur", "demandeur_id", "created_at",
             "updated_at", "montant_approuve", "decision_at", "password_hash", "session_generation",
             "failed_attempts", "must_change_password"}


def test_generated_forms_never_offer_protected_fields(app, db, ref):
    """Create and edit forms of every grid, as each role that may use them: no status, version,
    approver, and no computed amount of an allocation (R21: `montant` is computed, never typed)."""
    from flask_login import login_user

    admin = app.extensions["admin"][0]
    for view in admin._views:
        key = getattr(view, "policy_endpoint", None)
        if key is None or not hasattr(view, "create_form"):
            continue
        for role in ROLES:
            policy = POLICY[key]
            if role not in policy.create and role not in policy.edit:
                continue
            with app.test_request_context(f"/admin/{key}/new/"):
                login_user(ref.comptes[role])
                fields = set()
                if role in policy.create and view.can_create:
                    fields |= {f.name for f in view.create_form()}
                if role in policy.edit and view.can_edit:
                    fields |= {f.name for f in view.edit_form()}
                assert not fields & PROTECTED, (key, role, fields & PROTECTED)
                if key == "allocation":
                    assert "montant" not in fields


def _version_vue(html: str) -> str:
    import re
    m_ = re.search(r'name="version_vue"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version_vue"', html)
    return m_.group(1) or m_.group(2)


def _problems(resp) -> list[str]:
    import re
    html = resp.get_data(as_text=True)
    return re.findall(r'(?:invalid-feedback|help-block|alert-danger|alert-error)[^>]*>\s*(?:<[^>]*>[^<]*</button>)?([^<]+)', html)


def test_posted_protected_fields_are_ignored(app, db, ref):
    from tests import factories as f

    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    ids = {role: ref.comptes[role].id for role in ROLES}
    me = ref.comptes["admin"]
    me_values = dict(nom=me.nom, prenom=me.prenom, email=me.email, structure=str(me.structure_id))
    inscription_id, cerfa_id = i.id, c.id
    conseiller = RoleClient(app, "conseiller")
    resp = conseiller.post("/admin/demande_hors_delai/new/", data={
        "csrf_token": conseiller.token, "inscription": str(inscription_id), "mois": "01/2025", "montant_demande": "561,68",
        "motif": "Oubli de déclaration", "statut": "approuvee", "version": "42",
        "approbateur_id": str(ids["manager"]), "approbateur": str(ids["manager"]),
        "demandeur_id": str(ids["manager"]), "montant_approuve": "9999,00"})
    assert resp.status_code == 302, _problems(resp)
    db.session.remove()
    d = db.session.execute(sa.select(m.DemandeHorsDelai)).scalar_one()
    assert (d.statut.value, d.version, d.approbateur_id, d.montant_approuve) == ("en_attente", 1, None, None)
    assert d.demandeur_id == ids["conseiller"] and d.montant_demande == Decimal("561.68")

    # nobody changes their own role (the field is not even in the form); an admin edits another's
    admin = RoleClient(app, "admin")
    page = admin.get(f"/admin/compte/edit/?id={ids['admin']}").get_data(as_text=True)
    assert 'name="role"' not in page
    resp = admin.post(f"/admin/compte/edit/?id={ids['admin']}", data={
        "csrf_token": csrf_from(page), "login": "admin", **me_values,
        "role": "conseiller", "statut": "desactive",
        "must_change_password": "y", "session_generation": "99", "password_hash": "x",
        "version_vue": _version_vue(page)})
    assert resp.status_code == 302, _problems(resp)
    db.session.remove()
    me = db.session.get(m.Compte, ids["admin"])
    assert (me.role.value, me.statut.value, me.must_change_password, me.session_generation) == \
        ("admin", "actif", False, 0)
    assert me.password_hash.startswith("$argon2id$")

    # an allocation's amount is computed by the rules: a posted `montant` is ignored
    i, c = db.session.get(m.Inscription, inscription_id), db.session.get(m.Cerfa, cerfa_id)
    a = f.make_allocation(db.session, i, c, mois=date(2025, 4, 1))
    db.session.commit()
    montant, allocation_id = a.montant, a.id
    page = conseiller.get(f"/admin/allocation/edit/?id={allocation_id}").get_data(as_text=True)
    conseiller.post(f"/admin/allocation/edit/?id={allocation_id}", data={
        "csrf_token": csrf_from(page), "inscription": str(inscription_id), "cerfa": str(cerfa_id), "mois": "04/2025",
        "nature": "courante", "montant_forfaitaire": "561,68", "ressources_differentielles": "0",
        "montant": "99999,00", "statut": "validee_siege", "version_vue": _version_vue(page)})
    db.session.remove()
    a = db.session.get(m.Allocation, allocation_id)
    assert a.montant != Decimal("99999.00") and a.statut.value == "enregistree"
    assert a.montant == montant or a.montant <= Decimal("561.68")
