"""Issue 12 §2: the audit journal shows a role only what its grids show it.

Every edit writes its changed columns into audit_event.diff (IBAN, BIC, names, birth date, address), and
the journal is open to support, whom the policy keeps away from RIBs and youths. The journal stays
complete and sealed; what a diff *shows* follows the policy's column rules for the diff's entity: a role
that may not see a column in that entity's grid sees it masked (an IBAN as « FR76 •••• •••• 0189 », any
other field as « ••• ») in the audit list, its detail page, the history panel of record pages and the
export. Replayed over HTTP: a conseiller changes a youth's IBAN, support looks everywhere, admin still
reads it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace

import pytest
import sqlalchemy as sa

from backoffice import policy
from backoffice.models import AuditEvent
from backoffice.workflows import audit
from tests import factories as f
from tests.conftest import csrf_from

from .conftest import RoleClient

ANCIEN, NOUVEAU = f.VALID_IBANS[1], f.VALID_IBANS[0]  # FR14 2004 1010 … 606 → FR76 3000 6000 … 0189
MASQUE_NOUVEAU = "FR76 •••• •••• 0189"
MASQUE_ANCIEN = "FR14 •••• •••• 2606"
# the digits of either IBAN, compact or in groups of four as the RIB grid shows them
CHIFFRES = ("30006000011234567890", "3000 6000 0112", "2004101005050001", "2004 1010 0505")


def _version(html: str) -> str:
    return re.search(r'name="version_vue"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version_vue"', html).group(1) \
        or ""


def _edit_rib(c, rib_id, benef_id, **changes):
    url = f"/admin/compte_bancaire/edit/?id={rib_id}"
    page = c.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "version_vue": _version(page), "beneficiaire": str(benef_id),
            "titulaire": "LEA MARTIN", "iban": ANCIEN, "bic": "AGRIFRPP", "type_compte": "courant", "actif": "y"}
    data.update(changes)
    return c.post(url, data=data)


@pytest.fixture
def rib_modifie(app, db, ref):
    """A conseiller changes the IBAN and the holder of a youth's RIB through the real edit form."""
    b = f.make_beneficiaire(db.session, ref.nord, nom="Martin", prenom="Léa")
    cb = f.make_compte_bancaire(db.session, b, iban=ANCIEN, titulaire="LEA MARTIN")
    db.session.commit()
    conseiller = RoleClient(app, "conseiller")
    resp = _edit_rib(conseiller, cb.id, b.id, iban=NOUVEAU, titulaire="LEA MARTIN-DURAND")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    db.session.expire_all()
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "compte_bancaire",
                                                           AuditEvent.action == "modifier")).one()
    # the journal itself is complete: masking happens when it is shown, never when it is written
    assert event.diff["iban"] == [ANCIEN, NOUVEAU]
    assert event.diff["titulaire"] == ["LEA MARTIN", "LEA MARTIN-DURAND"]
    return cb.id, event.id


def _sans_chiffres(body: str) -> None:
    for digits in CHIFFRES:
        assert digits not in body, digits
    assert "MARTIN-DURAND" not in body


def test_support_reads_no_iban_in_the_audit_list_or_detail(app, rib_modifie):
    rib_id, event_id = rib_modifie
    support = RoleClient(app, "support")
    listing = support.get("/admin/audit_event/")
    assert listing.status_code == 200
    _sans_chiffres(listing.get_data(as_text=True))
    detail = support.get(f"/admin/audit_event/details/?id={event_id}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    _sans_chiffres(html)
    assert MASQUE_NOUVEAU in html and MASQUE_ANCIEN in html
    assert "•••" in html and "titulaire" in html  # which columns changed stays readable


def test_admin_still_reads_the_whole_diff(app, rib_modifie):
    _rib_id, event_id = rib_modifie
    html = RoleClient(app, "admin").get(f"/admin/audit_event/details/?id={event_id}").get_data(as_text=True)
    assert NOUVEAU in html and ANCIEN in html and "LEA MARTIN-DURAND" in html


def _csv(resp):
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def test_the_audit_export_masks_what_the_role_may_not_see(app, rib_modifie, monkeypatch):
    _rib_id, event_id = rib_modifie
    support = RoleClient(app, "support")
    assert support.get("/admin/audit_event/export/csv/").status_code == 403  # the policy: admin only
    admin_body = _csv(RoleClient(app, "admin").get("/admin/audit_event/export/csv/"))
    assert NOUVEAU in admin_body and "Modifications" in admin_body.splitlines()[0]
    # should the policy ever open the export to support, the diff stays masked there too
    monkeypatch.setitem(policy.POLICY, "audit_event", replace(policy.POLICY["audit_event"],
                                                              export=policy.POLICY["audit_event"].export | {policy.SU}))
    body = _csv(support.get("/admin/audit_event/export/csv/"))
    _sans_chiffres(body)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    row = next(dict(zip(rows[0], r)) for r in rows[1:] if r[0] == str(event_id))
    assert MASQUE_NOUVEAU in row["Modifications"]


def test_the_history_panel_of_a_record_page_masks_hidden_columns(app, rib_modifie, monkeypatch):
    rib_id, _event_id = rib_modifie
    admin = RoleClient(app, "admin").get(f"/admin/compte_bancaire/details/?id={rib_id}").get_data(as_text=True)
    historique = admin[admin.index('id="table-historique"'):]
    assert NOUVEAU in historique and ANCIEN in historique
    # support has no RIB grid at all; opened by the policy, IBAN and BIC stay hidden to it (policy.hidden),
    # on the record page and in its history panel alike
    assert RoleClient(app, "support").get(f"/admin/compte_bancaire/details/?id={rib_id}").status_code == 403
    opened = replace(policy.POLICY["compte_bancaire"], view=policy.POLICY["compte_bancaire"].view | {policy.SU})
    monkeypatch.setitem(policy.POLICY, "compte_bancaire", opened)
    resp = RoleClient(app, "support").get(f"/admin/compte_bancaire/details/?id={rib_id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for digits in CHIFFRES:
        assert digits not in html, digits
    historique = html[html.index('id="table-historique"'):]
    assert MASQUE_NOUVEAU in historique
    assert "LEA MARTIN-DURAND" in historique  # the holder is shown in support's RIB grid: not masked


def test_personal_fields_of_a_youth_are_masked_for_support(app, db, ref):
    b = f.make_beneficiaire(db.session, ref.nord, nom="Martin", prenom="Léa", adresse="12 rue des Lilas")
    db.session.commit()
    conseiller = RoleClient(app, "conseiller")
    url = f"/admin/beneficiaire/edit/?id={b.id}"
    page = conseiller.get(url).get_data(as_text=True)
    resp = conseiller.post(url, data={
        "csrf_token": csrf_from(page), "version_vue": _version(page), "identifiant_imilo": b.identifiant_imilo,
        "nom": "Zébulon", "prenom": "Léa", "date_naissance": "03/02/2005", "antenne": str(ref.nord.id),
        "adresse": "7 impasse Secrète", "ressortissant_eee": "y", "inscrit_france_travail": "y",
        "tranche_fiscale": "non_imposable", "protection_juridique": "aucune", "activite_micro": "__None"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    event_id = db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.entity == "beneficiaire"))
    html = RoleClient(app, "support").get(f"/admin/audit_event/details/?id={event_id}").get_data(as_text=True)
    for secret in ("Zébulon", "Z&#233;bulon", "ZEBULON", "Secrète", "2005-02-03", "Lilas", "2004-05-17"):
        assert secret not in html, secret
    assert "•••" in html
    manager = RoleClient(app, "manager").get(f"/admin/audit_event/details/?id={event_id}").get_data(as_text=True)
    assert "Zébulon" in manager or "Z&#233;bulon" in manager  # the manager sees youths in their grid


@pytest.mark.parametrize("role,visible", [(policy.A, True), (policy.M, True), (policy.SU, False)])
def test_one_masking_function_follows_the_policy(role, visible):
    diff = {"iban": [None, NOUVEAU], "nom": ["A", "B"]}
    shown = audit.diff_visible("compte_bancaire", diff, role)
    assert (shown == diff) is visible
    if not visible:
        assert shown == {"iban": [None, MASQUE_NOUVEAU], "nom": ["•••", "•••"]}
    assert audit.diff_visible("entite_sans_grille", {"x": [1, 2]}, policy.A) == {"x": ["•••", "•••"]}
