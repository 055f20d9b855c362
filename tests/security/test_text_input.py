"""Finding 8 (issue 12): text input hygiene, replayed over HTTP. Control characters are refused (tab and
newline only in multi-line fields), text is trimmed, a blank required name is refused, an e-mail address
is checked, every free-text field has a maximum length (form and database); each refusal is in French,
next to the field, and writes nothing."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice import models as m
from tests import factories as f
from tests.conftest import csrf_from


@pytest.fixture
def ref(ref):
    ref.nord_id = ref.nord.id  # read before any request detaches the reference rows
    return ref


def _count(db, model):
    db.session.remove()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _post(c, url, data):
    token = csrf_from(c.get(url).get_data(as_text=True))
    return c.post(url, data={"csrf_token": token, **data})


def _errors(resp) -> str:
    html = resp.get_data(as_text=True)
    found = re.findall(r'class="invalid-feedback[^"]*">(.*?)</div>', html, re.S)
    return htmllib.unescape(" | ".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", e)).strip() for e in found))


def _benef(ref, **overrides):
    data = {"identifiant_imilo": "IM99999999", "nom": "Müller", "prenom": "Zoé", "date_naissance": "03/02/2005",
            "antenne": str(ref.nord_id), "ressortissant_eee": "y", "inscrit_france_travail": "y",
            "tranche_fiscale": "non_imposable", "protection_juridique": "aucune", "activite_micro": "__None"}
    data.update(overrides)
    return data


CONTROLS = ["Mül\x00ler", "Mül\x01ler", "Mül\x1bler", "Mül\x7fler", "Mül\x85ler", "Mül\tler", "Mül\nler",
            "Mül\rler", "Mül\u2028ler"]


@pytest.mark.parametrize("value", CONTROLS)
def test_control_characters_in_a_name_are_refused_and_nothing_is_written(db, ref, login_as, value):
    c = login_as("conseiller")
    before = _count(db, m.Beneficiaire)
    resp = _post(c, "/admin/beneficiaire/new/", _benef(ref, nom=value))
    assert resp.status_code == 200
    assert "Caractère de contrôle interdit" in _errors(resp)
    assert _count(db, m.Beneficiaire) == before


@pytest.mark.parametrize("value", ["", "   ", "\u00a0\u202f", " \t "])
def test_a_blank_required_name_is_refused(db, ref, login_as, value):
    c = login_as("conseiller")
    resp = _post(c, "/admin/beneficiaire/new/", _benef(ref, prenom=value))
    assert resp.status_code == 200
    assert "obligatoire" in _errors(resp)
    assert _count(db, m.Beneficiaire) == 0


def test_text_is_trimmed_and_a_blank_optional_field_is_stored_empty(db, ref, login_as):
    c = login_as("conseiller")
    resp = _post(c, "/admin/beneficiaire/new/", _benef(ref, nom="  Müller  ", prenom=" Zoé", ville="   ",
                                                    email=" zoe@exemple.fr "))
    assert resp.status_code == 302, _errors(resp)
    db.session.remove()
    b = db.session.scalars(sa.select(m.Beneficiaire)).one()
    assert (b.nom, b.prenom, b.ville, b.email) == ("Müller", "Zoé", None, "zoe@exemple.fr")


@pytest.mark.parametrize("value", ["pas-une-adresse", "a@b", "zoé@", "@exemple.fr", "a b@exemple.fr",
                                   "zoe@exemple.fr\x00", "x" * 250 + "@exemple.fr"])
def test_an_email_address_is_checked(db, ref, login_as, value):
    c = login_as("conseiller")
    resp = _post(c, "/admin/beneficiaire/new/", _benef(ref, email=value))
    assert resp.status_code == 200
    assert re.search(r"e-mail invalide|Caractère de contrôle|caractères au plus", _errors(resp)), _errors(resp)
    assert _count(db, m.Beneficiaire) == 0


def _inscription(db, ref):
    b, cb, i, cerfa = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    db.session.commit()
    return i.id


def _hors_delai(c, inscription_id, motif):
    return _post(c, "/admin/demande_hors_delai/new/", {"inscription": str(inscription_id), "mois": "01/2025",
                                                        "motif": motif, "montant_demande": "561,68"})


def test_the_hors_delai_motif_has_a_maximum_length(db, ref, login_as):
    c = login_as("conseiller")
    i = _inscription(db, ref)
    for motif in ("x" * 100_000, "x" * 501):
        resp = _hors_delai(c, i, motif)
        assert resp.status_code == 200 and "500 caractères au plus" in _errors(resp), _errors(resp)[:200]
        assert _count(db, m.DemandeHorsDelai) == 0
    assert _hors_delai(c, i, "x" * 500).status_code == 302
    assert _count(db, m.DemandeHorsDelai) == 1


def test_a_multi_line_field_keeps_tabs_and_newlines_but_refuses_other_controls(db, ref, login_as):
    c = login_as("conseiller")
    i = _inscription(db, ref)
    resp = _hors_delai(c, i, "Oubli\x00")
    assert resp.status_code == 200 and "Caractère de contrôle interdit" in _errors(resp)
    resp = _hors_delai(c, i, "  Oubli du mois :\r\n\tdéclaration tardive  ")
    assert resp.status_code == 302, _errors(resp)
    db.session.remove()
    assert db.session.scalars(sa.select(m.DemandeHorsDelai.motif)).one() == "Oubli du mois :\r\n\tdéclaration tardive"


def test_a_whitespace_only_motif_is_refused(db, ref, login_as):
    c = login_as("conseiller")
    resp = _hors_delai(c, _inscription(db, ref), " \r\n\t ")
    assert resp.status_code == 200 and "obligatoire" in _errors(resp)
    assert _count(db, m.DemandeHorsDelai) == 0


@pytest.mark.parametrize("motif,message", [("Justif\x00icatif", "Caractère de contrôle interdit"),
                                           ("   ", "obligatoire"), ("x" * 501, "500 caractères au plus")])
def test_workflow_parameter_forms_refuse_controls_blanks_and_long_text(db, ref, login_as, motif, message):
    from backoffice.models.enums import AllocationStatut as S, CerfaStatut
    b, cb, i, cerfa = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    cerfa.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, cerfa, statut=S.SOUMISE, mois=date(2025, 3, 1))
    db.session.commit()
    c = login_as("siege")
    token = csrf_from(c.get("/admin/allocation/").get_data(as_text=True))
    resp = c.post("/admin/allocation/workflow/refuser/row", data={"id": a.id, "version": 1, "csrf_token": token})
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    refused = c.post(resp.headers["Location"], data={"csrf_token": csrf_from(page), "motif_refus": motif})
    assert refused.status_code == 200 and message in _errors(refused), _errors(refused)
    db.session.expire_all()
    assert db.session.get(m.Allocation, a.id).statut == S.SOUMISE


def test_workflow_parameter_is_trimmed(db, ref, login_as):
    from backoffice.models.enums import AllocationStatut as S, CerfaStatut
    b, cb, i, cerfa = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs)
    cerfa.statut = CerfaStatut.VALIDE_SIEGE
    a = f.make_allocation(db.session, i, cerfa, statut=S.SOUMISE, mois=date(2025, 3, 1))
    db.session.commit()
    c = login_as("siege")
    token = csrf_from(c.get("/admin/allocation/").get_data(as_text=True))
    resp = c.post("/admin/allocation/workflow/refuser/row", data={"id": a.id, "version": 1, "csrf_token": token})
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    c.post(resp.headers["Location"], data={"csrf_token": csrf_from(page), "motif_refus": "  Justificatif\r\n absent "})
    db.session.expire_all()
    assert db.session.get(m.Allocation, a.id).motif_refus == "Justificatif\r\n absent"


@pytest.mark.parametrize("email", ["pas-une-adresse", "a\x00@exemple.fr", "x" * 300])
def test_recovery_forms_check_the_email_address(app, db, ref, email):
    c = app.test_client()
    url = "/login/forgot"
    token = csrf_from(c.get(url).get_data(as_text=True))
    resp = c.post(url, data={"email": email, "csrf_token": token})
    assert resp.status_code in (200, 400)
    body = htmllib.unescape(resp.get_data(as_text=True))
    assert re.search(r"e-mail invalide|Caractère de contrôle|trop longue", body)
    assert _count(db, m.MailOutbox) == 0


@pytest.mark.parametrize("username", ["sie\x00ge", "siege\x1b", "x" * 65])
def test_recovery_by_login_refuses_controls(app, db, ref, username):
    c = app.test_client()
    url = "/password/forgot"
    token = csrf_from(c.get(url).get_data(as_text=True))
    resp = c.post(url, data={"username": username, "csrf_token": token})
    assert resp.status_code in (200, 400)
    body = htmllib.unescape(resp.get_data(as_text=True))
    assert re.search(r"Caractère de contrôle|trop long", body)
    assert _count(db, m.MailOutbox) == 0


def test_every_text_column_is_bounded_in_the_database(app, db):
    """No unbounded text column is left (String(n) everywhere; JSON aside)."""
    unbounded = [f"{t.name}.{c.name}" for t in db.metadata.sorted_tables for c in t.columns
                 if isinstance(c.type, sa.String) and not isinstance(c.type, sa.Enum) and not c.type.length]
    assert unbounded == []
    inspector = sa.inspect(db.engine)
    for t in db.metadata.sorted_tables:
        for col in inspector.get_columns(t.name):
            if isinstance(col["type"], sa.String) and not isinstance(col["type"], sa.Enum):
                assert col["type"].length, f"{t.name}.{col['name']} sans longueur en base"
