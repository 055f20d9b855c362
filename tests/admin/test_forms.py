"""Entity forms refuse bad input with the library's check and a French message next to the field,
and write nothing; good input is stored normalised (compact IBAN, derived search key)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date

import pytest
import sqlalchemy as sa

from backoffice import models as m
from tests.conftest import csrf_from

VALID_IBAN = "FR76 3000 6000 0112 3456 7890 189"
WRONG_RIB_KEY = "FR06 3000 6000 0112 3456 7890 188"  # mod-97 valid, RIB key wrong (rules.md E12)


def _count(db, model):
    db.session.remove()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _post(c, url, data):
    token = csrf_from(c.get(url).get_data(as_text=True))
    return c.post(url, data={"csrf_token": token, **data})


def _field_error(html: str, field: str) -> str:
    """The error text Flask-Admin renders under a field (bootstrap4: .invalid-feedback after the input)."""
    m_ = re.search(rf'id="{field}".*?<div class="invalid-feedback">(.*?)</div>', html, re.S)
    assert m_, f"pas d'erreur affichée sous le champ {field}"
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m_.group(1))).strip())


def _rib(sample, **overrides):
    data = {"beneficiaire": str(sample.nord("beneficiaire")), "titulaire": "LEA DUPONT", "iban": VALID_IBAN,
            "bic": "", "type_compte": "courant", "actif": "y"}
    data.update(overrides)
    return data


# --- RIB (R38, R76) ------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,message", [
    ("iban", WRONG_RIB_KEY, "Clé RIB incorrecte"),
    ("iban", "FR76 3000 6000 0112 3456 7890 18", "Longueur incorrecte"),
    ("iban", "FR77 3000 6000 0112 3456 7890 189", "Clé de contrôle de l'IBAN incorrecte"),
    ("iban", "XX76 3000", "Code pays"),
    ("bic", "AGRI", "BIC invalide"),
    ("type_compte", "livret_a",
     "Un RIB de Livret A n'est pas accepté pour le versement des allocations (R38)."),
    ("type_compte", "epargne", "compte courant"),
    ("titulaire", "M" * 50, "49 au maximum"),
])
def test_rib_form_refuses_bad_input_with_french_message_and_writes_nothing(field, value, message, sample,
                                                                          clients, db):
    before = _count(db, m.CompteBancaire)
    resp = _post(clients["conseiller"], "/admin/compte_bancaire/new/", _rib(sample, **{field: value}))
    assert resp.status_code == 200  # the form again, not a redirect
    html = resp.get_data(as_text=True)
    assert message in _field_error(html, field)
    assert _count(db, m.CompteBancaire) == before


def test_rib_form_stores_the_compact_iban(sample, clients, db):
    resp = _post(clients["conseiller"], "/admin/compte_bancaire/new/",
                 _rib(sample, iban="fr14 2004 1010 0505 0001 3m02 606", bic="psst frpp par"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    db.session.remove()
    rib = db.session.scalars(sa.select(m.CompteBancaire).order_by(m.CompteBancaire.id.desc())).first()
    assert rib.iban == "FR1420041010050500013M02606"
    assert rib.bic == "PSSTFRPPPAR"


def test_joint_account_must_show_the_youths_name(sample, clients, db):
    before = _count(db, m.CompteBancaire)
    resp = _post(clients["conseiller"], "/admin/compte_bancaire/new/",
                 _rib(sample, titulaire="M OU MME DURAND", compte_joint="y"))
    assert "nom du jeune" in _field_error(resp.get_data(as_text=True), "titulaire")
    assert _count(db, m.CompteBancaire) == before


def test_conseiller_cannot_attach_a_rib_to_another_antennes_youth(sample, clients, db):
    before = _count(db, m.CompteBancaire)
    resp = _post(clients["conseiller"], "/admin/compte_bancaire/new/",
                 _rib(sample, beneficiaire=str(sample.sud("beneficiaire"))))
    assert resp.status_code == 200
    assert _count(db, m.CompteBancaire) == before


# --- SIRET and address (R63, R75) ----------------------------------------------------------------

def _etab(**overrides):
    data = {"siret": "732 829 320 00074", "raison_sociale": "Café du Nord", "libelle_voie": "3 rue de Paris",
            "complement_adresse": "", "code_postal": "59000", "ville": "Lille", "email": "cafe@example.fr",
            "effectif": "3"}
    data.update(overrides)
    return data


@pytest.mark.parametrize("field,value,message", [
    ("siret", "73282932000079", "clé de contrôle"),
    ("siret", "7328293200007", "14 chiffres"),
    ("siret", "35600000049838", "clé de contrôle"),  # La Poste range, digit sum not a multiple of 5
    ("libelle_voie", "1" * 29, "28 caractères au maximum (R63)"),
    ("complement_adresse", "B" * 39, "38 caractères au maximum (R63)"),
])
def test_etablissement_form_refuses_bad_siret_and_long_address(field, value, message, sample, clients, db):
    before = _count(db, m.Etablissement)
    resp = _post(clients["admin"], "/admin/etablissement/new/", _etab(**{field: value}))
    assert resp.status_code == 200
    assert message in _field_error(resp.get_data(as_text=True), field)
    assert _count(db, m.Etablissement) == before


def test_etablissement_accepts_la_poste_siret_and_stores_it_compact(sample, clients, db):
    resp = _post(clients["admin"], "/admin/etablissement/new/", _etab(siret="356 000 000 09075"))
    assert resp.status_code == 302
    db.session.remove()
    assert db.session.scalar(sa.select(m.Etablissement.siret).where(m.Etablissement.raison_sociale == "Café du Nord")) \
        == "35600000009075"


# --- Beneficiaire (R14, search key, birth date) ---------------------------------------------------

def _benef(ref, **overrides):
    data = {"identifiant_imilo": "IM99999999", "nom": "Müller-Ébène", "prenom": "Zoé", "date_naissance": "03/02/2005",
            "antenne": str(ref.nord.id), "ressortissant_eee": "y", "inscrit_france_travail": "y",
            "tranche_fiscale": "non_imposable", "protection_juridique": "aucune", "activite_micro": "__None"}
    data.update(overrides)
    return data


def test_beneficiaire_search_key_is_derived_on_create_and_edit(ref, sample, clients, db):
    c = clients["conseiller"]
    resp = _post(c, "/admin/beneficiaire/new/", _benef(ref))
    assert resp.status_code == 302, _all_errors(resp)
    db.session.remove()
    b = db.session.scalars(sa.select(m.Beneficiaire).filter_by(identifiant_imilo="IM99999999")).one()
    assert b.nom_recherche == "MULLER-EBENE ZOE"
    assert b.antenne_id == ref.nord.id
    resp = _post(c, f"/admin/beneficiaire/edit/?id={b.id}", _benef(ref, nom="Œuvray", prenom="Anaïs"))
    assert resp.status_code == 302, _all_errors(resp)
    db.session.remove()
    assert db.session.get(m.Beneficiaire, b.id).nom_recherche == "OEUVRAY ANAIS"


def _all_errors(resp):
    return re.findall(r'invalid-feedback">(.*?)</div>', resp.get_data(as_text=True), re.S)


def test_non_eea_youth_needs_agdref_and_permit_end_date(ref, sample, clients, db):
    before = _count(db, m.Beneficiaire)
    data = _benef(ref)
    del data["ressortissant_eee"]  # unticked checkbox
    resp = _post(clients["conseiller"], "/admin/beneficiaire/new/", data)
    html = resp.get_data(as_text=True)
    assert "N° AGDREF obligatoire pour un jeune hors EEE (R14)." in _field_error(html, "numero_agdref")
    assert "(R14)" in _field_error(html, "date_fin_titre_sejour")
    assert _count(db, m.Beneficiaire) == before


@pytest.mark.parametrize("naissance", ["01/01/1980", "01/01/2020", "31/02/2004", "2004-13-01"])
def test_birth_date_out_of_range_or_invalid_is_refused(naissance, ref, sample, clients, db):
    before = _count(db, m.Beneficiaire)
    resp = _post(clients["conseiller"], "/admin/beneficiaire/new/", _benef(ref, date_naissance=naissance))
    error = _field_error(resp.get_data(as_text=True), "date_naissance")
    assert "hors limites" in error or "JJ/MM/AAAA" in error
    assert _count(db, m.Beneficiaire) == before


def test_conseiller_cannot_file_a_youth_in_another_antenne(ref, sample, clients, db):
    before = _count(db, m.Beneficiaire)
    resp = _post(clients["conseiller"], "/admin/beneficiaire/new/", _benef(ref, antenne=str(ref.sud.id)))
    assert resp.status_code == 200
    assert _field_error(resp.get_data(as_text=True), "antenne")
    assert _count(db, m.Beneficiaire) == before


# --- amounts: never a float, never NaN ------------------------------------------------------------

@pytest.mark.parametrize("value,message", [
    ("NaN", "NaN"), ("Infinity", "NaN et l'infini"), ("-inf", "NaN et l'infini"), ("1e3", "notation scientifique"),
    ("12,345", "2 décimales"), ("-5", "négatif"), ("12 34,5,6", "Montant invalide"),
    ("99999999999", "trop élevé"),
])
def test_amount_fields_refuse_nan_infinity_exponents(value, message, sample, clients, db):
    allocation = sample.nord("allocation")
    c = clients["conseiller"]
    data = {"inscription": str(sample.nord("inscription")), "mois": "04/2025", "nature": "courante",
            "montant_forfaitaire": value, "ressources_differentielles": "0"}
    resp = _post(c, f"/admin/allocation/edit/?id={allocation}", data)
    assert resp.status_code == 200
    assert message in _field_error(resp.get_data(as_text=True), "montant_forfaitaire")
    db.session.remove()
    assert str(db.session.get(m.Allocation, allocation).montant_forfaitaire) == "561.68"


def test_amount_typed_the_french_way_is_stored_as_decimal(sample, clients, db):
    allocation = sample.nord("allocation")
    data = {"inscription": str(sample.nord("inscription")), "mois": "4/2025", "nature": "courante",
            "montant_forfaitaire": "337,0 €", "ressources_differentielles": "1 234,5 €"}
    resp = _post(clients["conseiller"], f"/admin/allocation/edit/?id={allocation}", data)
    assert resp.status_code == 302, _all_errors(resp)
    db.session.remove()
    a = db.session.get(m.Allocation, allocation)
    assert str(a.montant_forfaitaire) == "337.00" and str(a.ressources_differentielles) == "1234.50"
    assert a.mois == date(2025, 4, 1)


def test_an_allocation_past_enregistree_cannot_be_edited(sample, clients, db):
    from backoffice.models.enums import AllocationStatut

    allocation = sample.nord("allocation")
    db.session.execute(sa.update(m.Allocation).where(m.Allocation.id == allocation)
                       .values(statut=AllocationStatut.SOUMISE))
    db.session.commit()
    data = {"inscription": str(sample.nord("inscription")), "mois": "04/2025", "nature": "courante",
            "montant_forfaitaire": "100", "ressources_differentielles": "0"}
    resp = _post(clients["conseiller"], f"/admin/allocation/edit/?id={allocation}", data)
    assert "(R46)" in resp.get_data(as_text=True)
    db.session.remove()
    assert str(db.session.get(m.Allocation, allocation).montant_forfaitaire) == "561.68"


def test_allocation_form_never_offers_status_amount_or_rectificative(sample, clients):
    html = clients["conseiller"].get("/admin/allocation/new/").get_data(as_text=True)
    form = html[html.index("admin-form"):]
    assert 'name="statut"' not in form and 'name="montant"' not in form and 'name="version"' not in form
    assert 'value="rectificative"' not in form


def test_dates_out_of_order_are_refused(sample, clients, db):
    before = _count(db, m.ConventionNacre)
    html = clients["admin"].get("/admin/convention_nacre/new/").get_data(as_text=True)
    operateur = re.search(r'<select[^>]*id="operateur".*?<option value="(\d+)"', html, re.S).group(1)
    resp = _post(clients["admin"], "/admin/convention_nacre/new/", {
        "numero": "NACRE-X", "operateur": operateur, "subvention_annuelle": "120 000", "date_debut": "01/01/2026",
        "date_fin": "31/12/2025"})
    assert "postérieure ou égale" in _field_error(resp.get_data(as_text=True), "date_fin")
    assert _count(db, m.ConventionNacre) == before


# --- accounts -------------------------------------------------------------------------------------

def _compte_id(db, login):
    return db.session.scalar(sa.select(m.Compte.id).filter_by(login=login))


def _structure_id(db, code):
    return db.session.scalar(sa.select(m.Structure.id).filter_by(code=code))


def test_admin_cannot_change_own_role(sample, clients, db):
    admin_id, siege_id = _compte_id(db, "admin"), _compte_id(db, "siege")
    html = clients["admin"].get(f"/admin/compte/edit/?id={admin_id}").get_data(as_text=True)
    form = html[html.index("admin-form"):]
    assert 'name="role"' not in form
    other = clients["admin"].get(f"/admin/compte/edit/?id={siege_id}").get_data(as_text=True)
    assert 'name="role"' in other[other.index("admin-form"):]


def test_new_account_gets_a_hashed_temporary_password_and_must_change_it(sample, clients, db):
    siege = _structure_id(db, "ML-SIEGE")
    resp = _post(clients["admin"], "/admin/compte/new/", {
        "login": "nouveau", "nom": "Neuf", "prenom": "Nina", "email": "nina@example.fr", "role": "siege",
        "structure": str(siege), "mot_de_passe_provisoire": "Provisoire-2026!"})
    assert resp.status_code == 302, _all_errors(resp)
    db.session.remove()
    compte = db.session.scalars(sa.select(m.Compte).filter_by(login="nouveau")).one()
    assert compte.must_change_password is True
    assert compte.password_hash.startswith("$argon2")
    weak = _post(clients["admin"], "/admin/compte/new/", {
        "login": "faible", "nom": "F", "prenom": "F", "email": "f@example.fr", "role": "siege",
        "structure": str(siege), "mot_de_passe_provisoire": "abc"})
    assert _field_error(weak.get_data(as_text=True), "mot_de_passe_provisoire")


# --- no form loads a whole table --------------------------------------------------------------------

LARGE = {m.Beneficiaire, m.Inscription, m.Cerfa, m.Allocation, m.CompteBancaire, m.Compte, m.Reversement,
         m.Salarie, m.Etablissement, m.AutorisationAP, m.DemandeIndemnisation, m.DeclarationPartenaire,
         m.LieuAccueil}


def test_every_relation_to_a_large_table_is_an_ajax_picker(app):
    from backoffice.admin_views.base import SecureModelView

    checked = 0
    for view in app.extensions["admin"][0]._views:
        if not isinstance(view, SecureModelView):
            continue
        relations = sa.inspect(view.model).relationships
        for name in view.form_columns or ():
            rel = relations.get(name)
            if rel is not None and rel.mapper.class_ in LARGE:
                assert name in (view.form_ajax_refs or {}), f"{view.endpoint}.{name}"
                checked += 1
    assert checked >= 20
