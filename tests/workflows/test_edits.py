"""Edits in the grids: a stale form is refused (never a silent overwrite); each edit is audited and shown."""

import html
import re

from backoffice.models import AuditEvent, Structure
from tests.conftest import csrf_from


def edit_payload(page: str, **changes) -> dict:
    data = {"csrf_token": csrf_from(page), "version_vue": re.search(r'name="version_vue" type="hidden" value="(\d+)"', page).group(1)}
    data.update(code="ML-ANT-NORD", nom="Antenne Lille Nord", type="antenne", siret="", adresse="12 rue de Roubaix",
                code_postal="59800", ville="Lille", email="", telephone="")
    data.update(changes)
    return data


def test_a_stale_edit_form_is_refused_and_changes_nothing(db, ref, login_as):
    nord = ref.nord
    alice, bob = login_as("admin"), login_as("admin")
    url = f"/admin/structure/edit/?id={nord.id}"
    page_alice = alice.get(url).get_data(as_text=True)
    page_bob = bob.get(url).get_data(as_text=True)
    alice.post(url, data=edit_payload(page_alice, nom="Antenne Lille Nord (Fives)"))
    resp = bob.post(url, data=edit_payload(page_bob, nom="Antenne Nord"), follow_redirects=True)
    assert "modifié par quelqu'un d'autre" in html.unescape(resp.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Structure, nord.id).nom == "Antenne Lille Nord (Fives)"


def test_an_edit_writes_an_audit_event_with_before_and_after_shown_in_the_history_panel(db, ref, login_as):
    admin = login_as("admin")
    url = f"/admin/structure/edit/?id={ref.nord.id}"
    admin.post(url, data=edit_payload(admin.get(url).get_data(as_text=True), ville="Lille-Fives"))
    event = db.session.query(AuditEvent).filter_by(entity="structure", entity_id=ref.nord.id, action="modifier").one()
    assert event.diff == {"ville": ["Lille", "Lille-Fives"]} and event.actor_id == ref.comptes["admin"].id
    details = admin.get(f"/admin/structure/details/?id={ref.nord.id}").get_data(as_text=True)
    assert 'id="historique"' in details and "Lille-Fives" in details and "modifier" in details
