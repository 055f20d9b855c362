"""Service civique (Elisa) and the ESAT extranet through the screens (issue 16), on the populated database: a
host and an ESAT see only their own (another's by URL answers as a missing one), a host uploads a document, the
siège computes a month (dry run, confirmation) and liquidates the filtered months in bulk into the SEPA batch,
an EA's forged declaration for another EA is refused."""

from __future__ import annotations

import html
from datetime import datetime

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import MoisProgrammeStatut as MS, SourceEcheance as SE
from tests.conftest import csrf_from
from tests.security.conftest import RoleClient

pytestmark = pytest.mark.populated

T0 = datetime(2025, 6, 16, 9, 0)


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _structure(db, code):
    return db.session.execute(sa.select(m.Structure).where(m.Structure.code == code)).scalar_one()


@pytest.fixture
def demo(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    yield
    app.config.pop("NOW_OVERRIDE", None)


def test_a_host_sees_only_its_contracts_months_and_documents(app, db, demo):
    ligue, mairie = _structure(db, "SC-01"), _structure(db, "SC-02")
    own = db.session.execute(sa.select(m.ContratServiceCivique).where(
        m.ContratServiceCivique.organisme_id == ligue.id).order_by(m.ContratServiceCivique.id)).scalars().all()
    other = db.session.execute(sa.select(m.ContratServiceCivique).where(
        m.ContratServiceCivique.organisme_id == mairie.id)).scalars().first()
    autre_mois = db.session.execute(sa.select(m.MoisServiceCivique.id).where(
        m.MoisServiceCivique.contrat_id == other.id)).scalars().first()
    client = RoleClient(app, "accueil")
    liste = _text(client.get("/admin/contrat_service_civique/"))
    assert all(c.numero in liste for c in own) and other.numero not in liste
    assert "IBAN du volontaire" not in liste
    detail = _text(client.get(f"/admin/contrat_service_civique/details/?id={own[0].id}"))
    assert "Prestation due par l'organisme" in detail and "attestation-presence.pdf" in detail
    assert "Émis" in detail or "En lot" in detail  # the payment status of the paid months
    # another host's contract, month, document upload: answered as missing ones
    assert client.get(f"/admin/contrat_service_civique/details/?id={other.id}").status_code in (302, 404)
    assert client.get(f"/admin/mois_service_civique/details/?id={autre_mois}").status_code in (302, 404)
    assert client.get(f"/admin/contrat_service_civique/deposer/{other.id}").status_code == 404
    mois = _text(client.get("/admin/mois_service_civique/"))
    assert other.numero not in mois and own[0].numero in mois
    # upload for its own contract, then download it; the other host cannot read it
    page = client.get(f"/admin/contrat_service_civique/deposer/{own[1].id}").get_data(as_text=True)
    import io
    resp = client.post(f"/admin/contrat_service_civique/deposer/{own[1].id}", data={
        "csrf_token": csrf_from(page), "objet": "Avenant au contrat",
        "fichier": (io.BytesIO(b"%PDF-1.4 avenant"), "avenant.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 302, _text(resp)
    lien = db.session.execute(sa.select(m.PieceServiceCivique).where(
        m.PieceServiceCivique.contrat_id == own[1].id)).scalars().one()
    assert client.get(f"/admin/contrat_service_civique/piece/{lien.id}").data == b"%PDF-1.4 avenant"
    assert RoleClient(app, "accueil2").get(f"/admin/contrat_service_civique/piece/{lien.id}").status_code == 404
    # a host never sees the staff grids of payments
    assert client.get("/admin/echeance/").status_code in (302, 403)


def test_an_esat_sees_only_its_declarations_and_cannot_file_for_another(app, db, demo):
    e1, e2, ea2 = _structure(db, "ESAT-01"), _structure(db, "ESAT-02"), _structure(db, "EA-02")
    autre = db.session.execute(sa.select(m.DeclarationGarantie.id).where(
        m.DeclarationGarantie.esat_id == e2.id)).scalars().first()
    client = RoleClient(app, "esat")
    liste = _text(client.get("/admin/declaration_garantie/"))
    assert e1.nom in liste and e2.nom not in liste
    assert client.get(f"/admin/declaration_garantie/details/?id={autre}").status_code in (302, 404)
    dgf_autre = db.session.execute(sa.select(m.DotationDGF.id).where(m.DotationDGF.esat_id == e2.id)).scalar_one()
    assert client.get(f"/admin/dotation_dgf/details/?id={dgf_autre}").status_code in (302, 404)
    n = db.session.execute(sa.select(sa.func.count()).select_from(m.DeclarationGarantie)).scalar_one()
    page = client.get("/admin/declaration_garantie/new/").get_data(as_text=True)
    resp = client.post("/admin/declaration_garantie/new/", data={
        "csrf_token": csrf_from(page), "esat": str(e2.id), "mois": "06/2025", "nb_travailleurs": "10", "etp": "8",
        "cotisations_obligatoires": "700", "prevoyance": "0", "formation": "0"})
    assert resp.status_code == 200  # the form again: ESAT-02 is not in its choices
    assert db.session.execute(sa.select(sa.func.count()).select_from(m.DeclarationGarantie)).scalar_one() == n
    resp = client.post("/admin/declaration_garantie/new/", data={
        "csrf_token": csrf_from(page), "esat": str(e1.id), "mois": "06/2025", "nb_travailleurs": "10", "etp": "8",
        "cotisations_obligatoires": "700", "prevoyance": "0", "formation": "0"})
    assert resp.status_code == 302, _text(resp)
    d = db.session.execute(sa.select(m.DeclarationGarantie).order_by(m.DeclarationGarantie.id.desc())).scalars().first()
    assert d.esat_id == e1.id and d.statut.value == "deposee"
    # the EA below 80 % (seeded in March) shows as refused with the rule, to its own user only
    ea_page = _text(RoleClient(app, "ea2").get("/admin/declaration_ea/"))
    assert "Refusée" in ea_page and ea2.nom in ea_page
    assert ea2.nom not in _text(RoleClient(app, "ea").get("/admin/declaration_ea/"))


def test_the_partners_and_the_ars_home_pages_and_menus(app, db, demo):
    for login, menu in (("accueil", "Contrats de service civique"), ("esat", "Garantie de rémunération (GRTH)"),
                        ("ea", "Aide au poste (EA)"), ("ars", "Dotations globales (DGF)")):
        page = RoleClient(app, login).get("/admin/")
        assert page.status_code == 200, login
        assert menu in _text(page), login


def test_the_ars_sees_its_region_only(app, db, demo):
    rouen = _structure(db, "ESAT-03")
    client = RoleClient(app, "ars")
    liste = _text(client.get("/admin/dotation_dgf/"))
    assert _structure(db, "ESAT-01").nom in liste and rouen.nom not in liste
    assert client.get("/admin/contrat_service_civique/").status_code in (302, 403)


def test_siege_computes_a_month_then_liquidates_the_filtered_months_in_bulk(app, db, demo):
    client = RoleClient(app, "siege")
    page = client.get("/admin/mois_service_civique/calculer").get_data(as_text=True)
    apercu = client.post("/admin/mois_service_civique/calculer", data={"csrf_token": csrf_from(page),
                                                                       "mois": "07/2025"})
    texte = _text(apercu)
    assert "seront calculés" in texte and "R55" in texte
    assert db.session.execute(sa.select(sa.func.count()).select_from(m.MoisServiceCivique).where(
        m.MoisServiceCivique.periode == datetime(2025, 7, 1).date())).scalar_one() == 0
    ok = client.post("/admin/mois_service_civique/calculer", data={
        "csrf_token": csrf_from(texte), "mois": "07/2025", "confirmer": "1"}, follow_redirects=True)
    assert "calculés" in _text(ok)
    juillet = db.session.execute(sa.select(m.MoisServiceCivique.id).where(
        m.MoisServiceCivique.periode == datetime(2025, 7, 1).date())).scalars().all()
    assert juillet
    # the grid filtered on July, « Liquider et envoyer en paiement » on every filtered row: dry run, confirmation
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views
                    if getattr(v, "endpoint", None) == "mois_service_civique")
        url = view.filtered_url("statut", "calcule")
    listing = client.get(url).get_data(as_text=True)
    query = url.split("?", 1)[1]
    comptable = RoleClient(app, "comptable")
    listing = comptable.get(url).get_data(as_text=True)
    resp = comptable.post(f"/admin/mois_service_civique/workflow/liquider/filtered?{query}",
                          data={"csrf_token": csrf_from(listing)})
    preview = comptable.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Simulation" in preview
    comptable.post(resp.headers["Location"], data={"csrf_token": csrf_from(preview)})
    db.session.expire_all()
    statuts = db.session.execute(sa.select(m.MoisServiceCivique.statut).where(
        m.MoisServiceCivique.id.in_(juillet))).scalars().all()
    assert set(statuts) == {MS.LIQUIDE}
    n = db.session.execute(sa.select(sa.func.count()).select_from(m.Echeance).where(
        m.Echeance.source_type == SE.SERVICE_CIVIQUE_MOIS, m.Echeance.source_id.in_(juillet))).scalar_one()
    assert n == len(juillet)
