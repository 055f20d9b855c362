"""Afas through the screens (issue 15), over HTTP as partners and the Caf would use them, on the populated
database: a partner's user sees their service only (R60), the activity provider cannot change the finances,
the financial provider cannot approve, the estimate and the anomalies on the declaration page (R59, R78)."""

from __future__ import annotations

import html
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import DeclarationStatut as S
from tests.security.conftest import RoleClient
from tests.workflows.test_afas import T0, Service

pytestmark = pytest.mark.populated


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _post(client, url, data, **kw):
    return client.post(url, data={**data, "csrf_token": client.token}, **kw)


@pytest.fixture
def deux_services(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    s = db.session
    a, b = Service(s, ref), Service(s, ref)
    da, db_ = a.declaration(2025, charges=D("30000")), b.declaration(2025, charges=D("31000"))
    s.commit()
    yield dict(a=a, b=b, da=da.id, db=db_.id, lieu_a=a.lieu.id, lieu_b=b.lieu.id, logins={k: c.login for k, c in (("act", a.act), ("fin", a.fin),
                                                                                  ("app", a.app))})
    app.config.pop("NOW_OVERRIDE", None)


def test_R60_a_partner_user_sees_only_their_service_declarations(app, db, deux_services):
    d = deux_services
    client = RoleClient(app, d["logins"]["fin"])
    page = _text(client.get("/admin/declaration_partenaire/"))
    assert d["a"].p.nom in page and d["b"].p.nom not in page
    assert "Espace de rencontre" not in page.replace(d["a"].p.nom, "")  # none of the demo's services either
    other = client.get(f"/admin/declaration_partenaire/details/?id={d['db']}")
    assert other.status_code in (302, 404) and d["b"].p.nom not in _text(other)
    # nor through its anomalies, lines or the tableau de suivi
    assert d["b"].p.nom not in _text(client.get("/admin/declaration_partenaire/suivi"))
    lignes = _text(client.get("/admin/ligne_activite/"))
    assert d["a"].lieu.nom in lignes and d["b"].lieu.nom not in lignes
    # the Caf agent sees both
    caf = RoleClient(app, "caf")
    page = _text(caf.get("/admin/declaration_partenaire/"))
    assert d["a"].p.nom in page and d["b"].p.nom in page


def test_R60_activity_provider_cannot_edit_the_finances(app, db, deux_services):
    d = deux_services
    client = RoleClient(app, d["logins"]["act"])
    decl = db.session.get(m.DeclarationPartenaire, d["da"])
    resp = _post(client, f"/admin/declaration_partenaire/edit/?id={decl.id}",
                 {"partenaire": str(decl.partenaire_id), "exercice": "2025", "type": "previsionnelle",
                  "budget": "30000", "charges": "90000", "produits": "90000", "version_vue": str(decl.version)},
                 follow_redirects=True)
    assert "Seul le fournisseur de données financières du service saisit les finances (R60)" in _text(resp)
    db.session.remove()
    assert db.session.get(m.DeclarationPartenaire, d["da"]).charges == D("30000.00")
    # their own part: an activity line is accepted, and the estimate computed again
    lieu_b = d["lieu_b"]
    resp = _post(client, "/admin/ligne_activite/new/", {"declaration": str(d["da"]), "lieu": str(lieu_b),
                                                        "semestre": "1", "heures_rencontres": "10",
                                                        "heures_entretiens": "0", "heures_organisation": "0"},
                 follow_redirects=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.LigneActivite).where(
        m.LigneActivite.lieu_id == lieu_b, m.LigneActivite.declaration_id == d["da"])) == 0  # not their venue
    # the financial provider changes them
    fin = RoleClient(app, d["logins"]["fin"])
    decl = db.session.get(m.DeclarationPartenaire, d["da"])
    resp = _post(fin, f"/admin/declaration_partenaire/edit/?id={decl.id}",
                 {"partenaire": str(decl.partenaire_id), "exercice": "2025", "type": "previsionnelle",
                  "budget": "36000", "charges": "36000", "produits": "36000", "version_vue": str(decl.version)})
    assert resp.status_code == 302, _text(resp)
    db.session.remove()
    decl = db.session.get(m.DeclarationPartenaire, d["da"])
    assert decl.charges == D("36000.00") and decl.droit_estime == D("0.60") * 36000 == D("21600.00")
    page = _text(fin.get(f"/admin/declaration_partenaire/details/?id={decl.id}"))
    assert "Estimation du droit" in page and "60 % × min(prix de revient 30,00" in page.replace("\u202f", " ")


def test_R60_financial_provider_cannot_approve_over_http(app, db, deux_services):
    d = deux_services
    fin = RoleClient(app, d["logins"]["fin"])
    decl = db.session.get(m.DeclarationPartenaire, d["da"])
    resp = _post(fin, "/admin/declaration_partenaire/workflow/controler/row", {"id": str(decl.id)},
                 follow_redirects=True)
    db.session.remove()
    assert db.session.get(m.DeclarationPartenaire, d["da"]).statut == S.CONTROLEE, _text(resp)
    resp = _post(fin, "/admin/declaration_partenaire/workflow/approuver/row", {"id": str(decl.id)},
                 follow_redirects=True)
    assert "seul l'approbateur habilité du service approuve et transmet (R60)" in _text(resp)
    db.session.remove()
    assert db.session.get(m.DeclarationPartenaire, d["da"]).statut == S.CONTROLEE
    app_client = RoleClient(app, d["logins"]["app"])
    _post(app_client, "/admin/declaration_partenaire/workflow/approuver/row", {"id": str(decl.id)})
    db.session.remove()
    assert db.session.get(m.DeclarationPartenaire, d["da"]).statut == S.APPROUVEE


def test_R59_justification_typed_on_screen_and_blocking_one_refused(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    svc = Service(db.session, ref)
    decl = svc.declaration(2025, charges=D("60000"), produits=D("59000"))  # COUT-PLAFOND + BUDGET
    db.session.commit()
    anomalies = {code: a.id for code, a in svc.anomalies(decl).items()}
    fin_id, decl_id = svc.fin.id, decl.id
    fin = RoleClient(app, svc.fin.login)
    page = _text(fin.get(f"/admin/declaration_partenaire/details/?id={decl_id}"))
    assert "COUT-PLAFOND" in page and "à justifier" in page and "à corriger dans la déclaration" in page
    resp = _post(fin, f"/admin/anomalie/edit/?id={anomalies['BUDGET']}",
                 {"justification": "Une subvention est attendue."}, follow_redirects=True)
    assert "bloquante se corrige" in _text(resp)
    _post(fin, f"/admin/anomalie/edit/?id={anomalies['COUT-PLAFOND']}",
          {"justification": "Loyer du nouveau local, voté en conseil."})
    db.session.remove()
    a = db.session.get(m.Anomalie, anomalies["COUT-PLAFOND"])
    assert a.justification == "Loyer du nouveau local, voté en conseil." and a.justifiee_par_id == fin_id
    assert db.session.get(m.Anomalie, anomalies["BUDGET"]).justification is None
    app.config.pop("NOW_OVERRIDE", None)
