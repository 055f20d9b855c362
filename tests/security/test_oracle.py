"""Finding 5 (issue 12): no cross-antenne oracle. A conseiller of antenne NORD who posts a row action,
a « lignes cochées » preview (dry run) or its confirmation on a row of antenne SUD gets exactly the
answer a missing id gets (status code, headers that matter, body once the id, the run number and the
CSRF token are blanked): neither the row's existence nor its status leaks (row scope before state)."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import AllocationStatut as S, CerfaStatut as C
from tests import factories as f
from tests.conftest import csrf_from

MISSING = 987_654


def _allocation(db, ref, antenne, statut):
    b, cb, i, c = f.make_parcours_cej(db.session, antenne, ref.dispositifs)
    c.statut = C.VALIDE_SIEGE
    return f.make_allocation(db.session, i, c, statut=statut, mois=date(2025, 3, 1)).id


def _cerfa(db, ref, antenne, statut):
    b, cb, i, c = f.make_parcours_cej(db.session, antenne, ref.dispositifs)
    c.statut = statut
    if statut == C.REFUSE:
        c.motif_refus = "RIB illisible"
    db.session.flush()
    return c.id


def _hors_delai(db, ref, antenne, statut):
    from decimal import Decimal
    b, cb, i, c = f.make_parcours_cej(db.session, antenne, ref.dispositifs)
    d = m.DemandeHorsDelai(inscription_id=i.id, antenne_id=i.antenne_id, mois=date(2025, 1, 1), statut=statut,
                           montant_demande=Decimal("561.68"), motif="Oubli", demandeur_id=ref.comptes["manager"].id,
                           motif_refus="Non" if statut.value == "refusee" else None)
    db.session.add(d)
    db.session.flush()
    return d.id


H = m.DemandeHorsDelai.statut.type.enum_class

CASES = {
    "demande_hors_delai": ("annuler", _hors_delai, [H("en_attente"), H("annulee"), H("refusee")]),
    "allocation": ("soumettre", _allocation, [S.ENREGISTREE, S.SOUMISE, S.VERSEE, S.VALIDEE_SIEGE]),
    "cerfa": ("recevoir", _cerfa, [C.SAISI, C.SIGNE_RECU, C.ACCEPTE, C.REFUSE]),
}


def _normalise(text: str, ident) -> str:
    text = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+|(value=")[^"]+("[^>]*name="csrf_token")', r"\1\2X\3", text)
    text = re.sub(r"/workflow/(run|progress)/\d+", r"/workflow/\1/N", text)
    text = re.sub(r"n° \d+", "n° N", text)
    text = re.sub(r'name="csrf-token" content="[^"]+"', "", text)
    return text  # the id itself appears nowhere in these pages (checked: no replacement needed)


def _same(got, expected, ident):
    import difflib
    diff = [d for d in difflib.unified_diff(str(expected).split("\\n"), str(got).split("\\n"), lineterm="", n=0)
            if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    assert got == expected, (ident, diff[:6])


def _answer(c, resp, ident):
    """(status, where it goes, the page it leads to), normalised."""
    location = resp.headers.get("Location", "")
    page = c.get(location) if resp.status_code == 302 else resp
    return resp.status_code, _normalise(location, ident), page.status_code, _normalise(page.get_data(as_text=True), ident)


@pytest.fixture
def foreign(db, ref):
    out = {}
    for endpoint, (_t, make, statuts) in CASES.items():
        out[endpoint] = [make(db, ref, ref.sud, s) for s in statuts]
        make(db, ref, ref.nord, statuts[0])  # the conseiller's own list is not empty
    db.session.commit()
    return out


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_row_action_on_another_antennes_row_answers_like_a_missing_id(db, ref, login_as, foreign, endpoint):
    transition = CASES[endpoint][0]
    c = login_as("conseiller")
    token = csrf_from(c.get(f"/admin/{endpoint}/").get_data(as_text=True))

    def post(ident):
        resp = c.post(f"/admin/{endpoint}/workflow/{transition}/row",
                      data={"id": ident, "version": 1, "csrf_token": token})
        return _answer(c, resp, ident)

    expected = post(MISSING)
    assert "introuvable" in expected[3]
    for ident in foreign[endpoint]:
        _same(post(ident), expected, ident)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_ticked_rows_preview_and_confirmation_answer_like_a_missing_id(db, ref, login_as, foreign, endpoint):
    transition = CASES[endpoint][0]
    c = login_as("conseiller")
    token = csrf_from(c.get(f"/admin/{endpoint}/").get_data(as_text=True))

    def preview(ident):
        resp = c.post(f"/admin/{endpoint}/action/", data={"action": f"wf_{transition}", "rowid": [ident],
                                                         "csrf_token": token})
        answer = _answer(c, resp, ident)
        confirm = c.post(resp.headers["Location"], data={"csrf_token": token})
        return answer, _answer(c, confirm, ident)

    expected = preview(MISSING)
    assert "introuvable" in expected[0][3] and "Simulation" in expected[0][3]
    for ident in foreign[endpoint]:
        _same(preview(ident), expected, ident)


def test_foreign_rows_are_reported_as_missing_in_the_stored_report(db, ref, login_as, foreign):
    """The BulkRun's refusals (shown on the progress page, kept for the record) say the same."""
    c = login_as("conseiller")
    token = csrf_from(c.get("/admin/allocation/").get_data(as_text=True))
    resp = c.post("/admin/allocation/action/", data={"action": "wf_soumettre", "rowid": foreign["allocation"],
                                                    "csrf_token": token})
    c.post(resp.headers["Location"], data={"csrf_token": token})
    db.session.expire_all()
    run = db.session.scalars(sa.select(m.BulkRun).order_by(m.BulkRun.id.desc())).first()
    assert run.refus == {"introuvable ou supprimée": len(foreign["allocation"])}
    assert run.modifies == 0
    statuts = db.session.scalars(sa.select(m.Allocation.statut).where(m.Allocation.id.in_(foreign["allocation"])))
    assert sorted(s.value for s in statuts) == sorted(s.value for s in CASES["allocation"][2])
