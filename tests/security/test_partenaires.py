"""Partner accounts (R62-R65), end to end through the grids and down to the database:
one account per SIRET, the first user is the main contact (name and e-mail frozen, referent
changeable), added users requested by the main contact and granted by the siège through a workflow,
a tiers déclarant linked to several establishments; a partner sees nothing else."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from stdnum import luhn

from backoffice import models as m
from backoffice.models.enums import HabilitationStatut, Role, RoleEtablissement
from backoffice.passwords import hash_password
from backoffice.policy import POLICY
from backoffice.security import DROIT_PAR_METHODE, ROUTES_AUTHENTIFIEES, ROUTES_PUBLIQUES
from backoffice.workflows import Selection, run
from backoffice.workflows import habilitations
from backoffice.workflows.errors import InvalidParameters, RoleRefused
from backoffice.workflows.habilitations import HABILITATION
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.security.conftest import RoleClient
from tests.security.test_authorization import GATE_PASSED, _url, _version_vue, gate_probe  # noqa: F401

_n = iter(range(10_000_000, 99_999_999))


def _siret() -> str:
    """A valid SIRET (Luhn on the SIREN and on the 14 digits), different each call."""
    siren = str(next(_n))
    siren += luhn.calc_check_digit(siren)
    base = siren + "0001"
    return base + luhn.calc_check_digit(base)


def _etablissement(session, nom="Menuiserie Roubaix", **kw) -> m.Etablissement:
    e = m.Etablissement(siret=kw.pop("siret", None) or _siret(), raison_sociale=nom, libelle_voie="4 rue du Bois",
                        code_postal="59100", ville="Roubaix", email="rh@menuiserie.example.fr",
                        referent_nom="Jeanne Martin", **kw)
    session.add(e)
    session.flush()
    return e


def _partenaire(session, login, nom="Durand", prenom="Lise") -> m.Compte:
    c = m.Compte(login=login, email=f"{login}@entreprise.example.fr", nom=nom, prenom=prenom, role=Role.PARTENAIRE,
                 password_hash=hash_password(DEMO_PASSWORD), must_change_password=False)
    session.add(c)
    session.flush()
    return c


def _lien(session, compte, etab, role=RoleEtablissement.CONTACT_PRINCIPAL):
    lien = m.CompteEtablissement(compte_id=compte.id, etablissement_id=etab.id, role=role)
    session.add(lien)
    session.flush()
    return lien


@pytest.fixture
def parc(db, ref):
    """Two establishments with their main contacts; a tiers déclarant linked to both."""
    s = db.session
    e1, e2 = _etablissement(s, "Menuiserie Roubaix"), _etablissement(s, "Garage Tourcoing")
    contact1, contact2 = _partenaire(s, "contact1", nom="Durand"), _partenaire(s, "contact2", nom="Petit")
    tiers = _partenaire(s, "tiers1", nom="Cabinet", prenom="Compta")
    _lien(s, contact1, e1)
    _lien(s, contact2, e2)
    _lien(s, tiers, e1, RoleEtablissement.TIERS_DECLARANT)
    _lien(s, tiers, e2, RoleEtablissement.TIERS_DECLARANT)
    s.commit()
    return {"e1": e1.id, "e2": e2.id, "contact1": contact1.id, "contact2": contact2.id, "tiers": tiers.id,
            "siret1": e1.siret}


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _post(client, url, data, page=None):
    token = csrf_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _count(db, model, *where) -> int:
    db.session.remove()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# ---- R62: one account per SIRET, never changed ------------------------------------------------------

def _etab_form(**kw):
    data = {"siret": _siret(), "raison_sociale": "Boulangerie Wattrelos", "libelle_voie": "1 place de la Gare",
            "complement_adresse": "", "code_postal": "59150", "ville": "Wattrelos", "email": "b@example.fr",
            "effectif": "4", "referent_nom": "Paul Roux"}
    data.update(kw)
    return data


def test_a_siret_already_known_is_refused_with_the_R62_message_and_nothing_is_written(app, db, parc):
    admin = RoleClient(app, "admin")
    before = _count(db, m.Etablissement)
    resp = _post(admin, "/admin/etablissement/new/", _etab_form(siret=parc["siret1"]),
                 page="/admin/etablissement/new/")
    assert resp.status_code == 200
    body = _text(resp)
    assert "Ce SIRET a déjà un compte : contactez l'utilisateur principal de ce compte" in body and "(R62)" in body
    assert "Existe déjà" not in body  # one clear answer, not Flask-Admin's generic one too
    assert _count(db, m.Etablissement) == before
    # the database refuses it too, whatever the path
    with pytest.raises(sa.exc.IntegrityError):
        _etablissement(db.session, siret=parc["siret1"])
    db.session.rollback()
    # a new SIRET is a new account
    assert _post(admin, "/admin/etablissement/new/", _etab_form(), page="/admin/etablissement/new/").status_code == 302
    assert _count(db, m.Etablissement) == before + 1


def test_the_siret_of_an_account_never_changes_R62(app, db, parc):
    admin = RoleClient(app, "admin")
    url = f"/admin/etablissement/edit/?id={parc['e1']}"
    page = admin.get(url).get_data(as_text=True)
    assert 'name="siret"' not in page and 'name="raison_sociale"' in page
    resp = admin.post(url, data={**_etab_form(siret=_siret(), raison_sociale="Menuiserie Roubaix SA"),
                                 "csrf_token": csrf_from(page), "version_vue": _version_vue(page)})
    assert resp.status_code == 302
    db.session.remove()
    e = db.session.get(m.Etablissement, parc["e1"])
    assert (e.siret, e.raison_sociale) == (parc["siret1"], "Menuiserie Roubaix SA")


# ---- R64: the first user is the main contact; a link is never moved --------------------------------

def test_the_first_user_linked_to_an_establishment_becomes_its_main_contact(app, db, ref, parc):
    s = db.session
    e3 = _etablissement(s, "Imprimerie Lille")
    premier, second = _partenaire(s, "premier"), _partenaire(s, "second")
    s.commit()
    e3_id, premier_id, second_id = e3.id, premier.id, second.id
    admin = RoleClient(app, "admin")
    new = "/admin/compte_etablissement/new/"
    page = admin.get(new).get_data(as_text=True)
    assert 'value="utilisateur"' not in page  # added users come from the main contact's requests

    # asked as a tiers déclarant, the first user of the establishment is its main contact anyway
    resp = _post(admin, new, {"compte": str(premier_id), "etablissement": str(e3_id), "role": "tiers_declarant"})
    assert resp.status_code == 302
    assert _count(db, m.CompteEtablissement, m.CompteEtablissement.etablissement_id == e3_id,
                  m.CompteEtablissement.compte_id == premier_id,
                  m.CompteEtablissement.role == RoleEtablissement.CONTACT_PRINCIPAL) == 1

    # a second main contact, a hand-made "utilisateur", a staff account, a duplicate: refused in French
    for data, message in (
            ({"compte": str(second_id), "role": "contact_principal"}, "déjà son contact principal"),
            ({"compte": str(second_id), "role": "utilisateur"}, "Choix invalide"),
            ({"compte": str(premier_id), "role": "tiers_declarant"}, "déjà rattaché")):
        before = _count(db, m.CompteEtablissement)
        resp = _post(admin, new, {"etablissement": str(e3_id), **data})
        assert resp.status_code == 200 and message in _text(resp), (data, message)
        assert _count(db, m.CompteEtablissement) == before
    # a staff account is not even offered, and refused if posted
    assert admin.get("/admin/compte_etablissement/ajax/lookup/?name=compte&query=sieg").get_json() == []
    assert [lbl for _, lbl in admin.get("/admin/compte_etablissement/ajax/lookup/?name=compte&query=seco"
                                        ).get_json()] == ["second (Lise Durand)"]
    before = _count(db, m.CompteEtablissement)
    resp = _post(admin, new, {"compte": str(siege_id(db)), "etablissement": str(e3_id), "role": "tiers_declarant"})
    assert resp.status_code == 200 and _count(db, m.CompteEtablissement) == before
    with pytest.raises(Exception, match="Seul un compte partenaire"):
        habilitations.role_nouvelle_habilitation(s, compte=s.get(m.Compte, siege_id(db)),
                                                 etablissement=s.get(m.Etablissement, e3_id),
                                                 role=RoleEtablissement.TIERS_DECLARANT)
    # the service refuses "utilisateur" even if a form offered it
    with pytest.raises(Exception, match="demandé par le contact principal"):
        habilitations.role_nouvelle_habilitation(s, compte=s.get(m.Compte, second_id),
                                                 etablissement=s.get(m.Etablissement, e3_id),
                                                 role=RoleEtablissement.UTILISATEUR)
    # a tiers déclarant after the main contact is fine
    assert _post(admin, new, {"compte": str(second_id), "etablissement": str(e3_id),
                              "role": "tiers_declarant"}).status_code == 302

    # the database backs it: a first link that is not the main contact's is refused
    e4 = _etablissement(s, "Sans contact")
    s.commit()
    with pytest.raises(sa.exc.IntegrityError, match="premier utilisateur"):
        _lien(s, s.get(m.Compte, second_id), e4, RoleEtablissement.TIERS_DECLARANT)
    s.rollback()


def test_the_main_contacts_link_is_never_edited_nor_deleted(app, db, parc):
    admin = RoleClient(app, "admin")
    lien_id = db.session.scalar(sa.select(m.CompteEtablissement.id).where(
        m.CompteEtablissement.compte_id == parc["contact1"]))
    tiers_lien = db.session.scalar(sa.select(m.CompteEtablissement.id).where(
        m.CompteEtablissement.compte_id == parc["tiers"], m.CompteEtablissement.etablissement_id == parc["e1"]))
    assert POLICY["compte_etablissement"].edit == frozenset()
    assert admin.get(f"/admin/compte_etablissement/edit/?id={lien_id}").status_code == 403
    resp = _post(admin, "/admin/compte_etablissement/delete/", {"id": str(lien_id)},
                 page="/admin/compte_etablissement/")
    assert resp.status_code == 302
    assert "reste rattaché à son établissement (R64)" in _text(admin.get(resp.headers["Location"]))
    assert _count(db, m.CompteEtablissement, m.CompteEtablissement.id == lien_id) == 1
    # a tiers déclarant's link may go
    _post(admin, "/admin/compte_etablissement/delete/", {"id": str(tiers_lien)}, page="/admin/compte_etablissement/")
    assert _count(db, m.CompteEtablissement, m.CompteEtablissement.id == tiers_lien) == 0
    # and in the database: no UPDATE moves the main contact, no DELETE removes them
    for sql in ("UPDATE compte_etablissement SET compte_id = :other WHERE id = :id",
                "UPDATE compte_etablissement SET role = 'utilisateur' WHERE id = :id",
                "DELETE FROM compte_etablissement WHERE id = :id"):
        with pytest.raises(sa.exc.IntegrityError, match="R64"):
            with db.engine.begin() as conn:
                conn.execute(sa.text(sql), {"id": lien_id, "other": parc["contact2"]})


def test_the_main_contacts_name_first_name_and_email_are_frozen_but_the_referent_changes(app, db, parc):
    admin = RoleClient(app, "admin")
    url = f"/admin/compte/edit/?id={parc['contact1']}"
    page = admin.get(url).get_data(as_text=True)
    for name in ("nom", "prenom", "email"):
        assert f'name="{name}"' not in page, name
    resp = admin.post(url, data={"csrf_token": csrf_from(page), "version_vue": _version_vue(page), "login": "contact1",
                                 "role": "partenaire", "nom": "Pirate", "prenom": "Jack", "email": "jack@evil.example"})
    assert resp.status_code == 302
    db.session.remove()
    c = db.session.get(m.Compte, parc["contact1"])
    assert (c.nom, c.prenom, c.email) == ("Durand", "Lise", "contact1@entreprise.example.fr")

    # server side, whatever the form: the view's check, then the database trigger
    c.email = "autre@example.fr"
    with pytest.raises(Exception, match="ne se modifient pas"):
        habilitations.verifier_identite_figee(db.session, c)
    with pytest.raises(sa.exc.IntegrityError, match="R64"):
        db.session.commit()
    db.session.rollback()

    # a user who is not a main contact can be renamed
    tiers_url = f"/admin/compte/edit/?id={parc['tiers']}"
    page = admin.get(tiers_url).get_data(as_text=True)
    assert 'name="nom"' in page
    admin.post(tiers_url, data={"csrf_token": csrf_from(page), "version_vue": _version_vue(page), "login": "tiers1",
                                "role": "partenaire", "nom": "Cabinet Nord", "prenom": "Compta",
                                "email": "tiers1@entreprise.example.fr"})
    db.session.remove()
    assert db.session.get(m.Compte, parc["tiers"]).nom == "Cabinet Nord"

    # the referent of the establishment changes (R64), by the siège …
    siege = RoleClient(app, "siege")
    e_url = f"/admin/etablissement/edit/?id={parc['e1']}"
    page = siege.get(e_url).get_data(as_text=True)
    resp = siege.post(e_url, data={**_etab_form(raison_sociale="Menuiserie Roubaix", referent_nom="Ali Benali"),
                                   "csrf_token": csrf_from(page), "version_vue": _version_vue(page)})
    assert resp.status_code == 302
    db.session.remove()
    assert db.session.get(m.Etablissement, parc["e1"]).referent_nom == "Ali Benali"
    # … and by the main contact, who changes that and nothing else
    contact = RoleClient(app, "contact1")
    page = contact.get(e_url).get_data(as_text=True)
    assert 'name="referent_nom"' in page
    assert not {n for n in ("siret", "raison_sociale", "email", "effectif") if f'name="{n}"' in page}
    resp = contact.post(e_url, data={"csrf_token": csrf_from(page), "version_vue": _version_vue(page),
                                     "referent_nom": "Nadia Roux", "raison_sociale": "Pirate SARL",
                                     "email": "pirate@example.fr", "siret": _siret(), "effectif": "999"})
    assert resp.status_code == 302
    db.session.remove()
    e = db.session.get(m.Etablissement, parc["e1"])
    assert (e.referent_nom, e.raison_sociale, e.siret, e.effectif) == \
        ("Nadia Roux", "Menuiserie Roubaix", parc["siret1"], 4)
    modif = db.session.scalars(sa.select(m.AuditEvent).where(
        m.AuditEvent.entity == "etablissement", m.AuditEvent.action == "modifier",
        m.AuditEvent.actor_id == parc["contact1"])).one()
    assert modif.diff == {"referent_nom": ["Ali Benali", "Nadia Roux"]}


def test_a_tiers_declarant_sees_every_establishment_it_declares_for_but_is_not_their_main_contact(app, db, parc):
    tiers = RoleClient(app, "tiers1")
    body = _text(tiers.get("/admin/etablissement/"))
    assert "Menuiserie Roubaix" in body and "Garage Tourcoing" in body
    # not the main contact: the referent is not theirs to change, by URL or by POST
    e_url = f"/admin/etablissement/edit/?id={parc['e1']}"
    resp = tiers.get(e_url)
    assert resp.status_code == 302 and 'name="referent_nom"' not in _text(resp)
    tiers.post(e_url, data={"csrf_token": tiers.token, "referent_nom": "Pirate"})
    db.session.remove()
    assert db.session.get(m.Etablissement, parc["e1"]).referent_nom == "Jeanne Martin"
    # and it requests no user for them
    resp = _post(tiers, "/admin/demande_habilitation/new/", {
        "etablissement": str(parc["e1"]), "login": "nouveau1", "nom": "Neuf", "prenom": "Jean",
        "email": "n@example.fr", "confirmation_email": "n@example.fr"})
    assert resp.status_code == 200 and habilitations.MSG_PAS_CONTACT in _text(resp)
    assert _count(db, m.DemandeHabilitation) == 0


def test_a_tiers_declarant_is_linked_to_200_establishments_at_most(app, db, parc, monkeypatch):
    assert habilitations.MAX_ETABLISSEMENTS_PAR_COMPTE == 200  # R64 [W24]; 3 here, to keep the test small
    monkeypatch.setattr(habilitations, "MAX_ETABLISSEMENTS_PAR_COMPTE", 3)
    s = db.session
    e3, e4 = _etablissement(s, "Troisième"), _etablissement(s, "Quatrième")
    _lien(s, s.get(m.Compte, parc["contact2"]), e3)
    _lien(s, s.get(m.Compte, parc["contact2"]), e4)
    s.commit()
    e3_id, e4_id = e3.id, e4.id
    admin = RoleClient(app, "admin")
    new = "/admin/compte_etablissement/new/"
    assert _post(admin, new, {"compte": str(parc["tiers"]), "etablissement": str(e3_id),
                              "role": "tiers_declarant"}).status_code == 302
    resp = _post(admin, new, {"compte": str(parc["tiers"]), "etablissement": str(e4_id), "role": "tiers_declarant"})
    assert resp.status_code == 200 and "3 établissements au plus (R64)" in _text(resp)
    assert _count(db, m.CompteEtablissement, m.CompteEtablissement.compte_id == parc["tiers"]) == 3


# ---- added users: requested by the main contact, granted by the siège (workflow) ----------------------

def _demander(client, etab_id, login="nouveau1", **kw):
    data = {"etablissement": str(etab_id), "login": login, "nom": "Neuf", "prenom": "Jean",
            "email": f"{login}@example.fr", "confirmation_email": f"{login}@example.fr"}
    data.update(kw)
    return _post(client, "/admin/demande_habilitation/new/", data)


def _row(client, transition, ident, version=1, **extra):
    return client.post(f"/admin/demande_habilitation/workflow/{transition}/row",
                       data={"csrf_token": client.token, "id": str(ident), "version": str(version), **extra})


def test_the_main_contact_requests_a_user_and_the_siege_grants_it_end_to_end(app, db, parc):
    contact = RoleClient(app, "contact1")
    # the picker offers only the establishments they are the main contact of
    resp = contact.get("/admin/demande_habilitation/ajax/lookup/?name=etablissement&query=m")
    assert [label for _, label in resp.get_json()] == [f"Menuiserie Roubaix ({parc['siret1']})"]
    assert contact.get("/admin/demande_habilitation/ajax/lookup/?name=etablissement&query=g").get_json() == []

    # the e-mail typed twice (R63); a taken login; then the request, with protected fields posted for nothing
    resp = _demander(contact, parc["e1"], confirmation_email="autre@example.fr")
    assert resp.status_code == 200 and "ne sont pas identiques (R63)" in _text(resp)
    resp = _demander(contact, parc["e1"], login="siege", email="x@example.fr", confirmation_email="x@example.fr")
    assert resp.status_code == 200 and "déjà utilisé" in _text(resp)
    resp = _demander(contact, parc["e1"], login=" Nouveau1 ", email="nouveau1@example.fr",
                     confirmation_email="Nouveau1@example.fr", statut="accordee", demandeur_id=str(parc["contact2"]),
                     compte=str(parc["tiers"]), decide_par_id="1", version="7")
    assert resp.status_code == 302
    db.session.remove()
    d = db.session.scalars(sa.select(m.DemandeHabilitation)).one()
    assert (d.login, d.statut, d.demandeur_id, d.compte_id, d.decide_par_id, d.version) == \
        ("nouveau1", HabilitationStatut.DEMANDEE, parc["contact1"], None, None, 1)
    demande_id = d.id
    # a second request for the same login while the first is pending
    resp = _demander(contact, parc["e1"], login="nouveau1")
    assert resp.status_code == 200 and "déjà en cours" in _text(resp)

    # the main contact cannot grant it, nor the support desk; the siège can
    assert _row(contact, "accorder", demande_id).status_code == 403
    assert _row(RoleClient(app, "support"), "accorder", demande_id).status_code == 403
    siege = RoleClient(app, "siege")
    assert "Demandes d'habilitation en attente" in _text(siege.get("/admin/"))
    resp = _row(siege, "accorder", demande_id)
    assert resp.status_code == 302
    db.session.remove()
    d = db.session.get(m.DemandeHabilitation, demande_id)
    assert d.statut == HabilitationStatut.ACCORDEE and d.decide_par_id == siege_id(db) and d.decision_at
    compte = db.session.get(m.Compte, d.compte_id)
    assert (compte.login, compte.role, compte.nom, compte.email, compte.must_change_password, compte.structure_id) == \
        ("nouveau1", Role.PARTENAIRE, "Neuf", "nouveau1@example.fr", True, None)
    lien = db.session.scalars(sa.select(m.CompteEtablissement)
                              .where(m.CompteEtablissement.compte_id == compte.id)).one()
    assert (lien.etablissement_id, lien.role, lien.demande_par_id) == \
        (parc["e1"], RoleEtablissement.UTILISATEUR, parc["contact1"])
    events = {(e.entity, e.action) for e in db.session.scalars(sa.select(m.AuditEvent))}
    assert {("demande_habilitation", "creer"), ("demande_habilitation", "accorder"),
            ("compte", "creation_habilitation"), ("compte_etablissement", "creation_habilitation")} <= events
    # R65: the login, a link to choose the password (48 h), the decision to the main contact
    mails = {x.template: x for x in db.session.scalars(sa.select(m.MailOutbox))}
    assert set(mails) == {"habilitation_accordee", "premier_mot_de_passe", "demande_habilitation_traitee"}
    from backoffice.jobs.mail import render  # the link as the mail job renders it (never stored, issue 12)
    lien, compte_id = re.search(r"(http\S+)", render("premier_mot_de_passe",
                                                        mails["premier_mot_de_passe"].contexte)[1]).group(1), compte.id
    assert mails["habilitation_accordee"].destinataire == "nouveau1@example.fr"
    assert mails["habilitation_accordee"].contexte["login"] == "nouveau1"
    assert mails["demande_habilitation_traitee"].destinataire == "contact1@entreprise.example.fr"
    jeton = db.session.scalars(sa.select(m.JetonCompte).where(m.JetonCompte.compte_id == compte.id)).one()
    assert round((jeton.expires_at - jeton.created_at).total_seconds() / 3600) == 48

    # granting twice changes nothing (idempotent)
    resp = _row(siege, "accorder", demande_id, version=2)
    assert "déjà à l'état « Accordée »" in _text(siege.get(resp.headers["Location"]))
    assert _count(db, m.Compte, m.Compte.login == "nouveau1") == 1
    assert _count(db, m.MailOutbox) == 3

    # the new user chooses a password through the mailed link, then sees the establishment
    token = re.search(r"/password/reset/([^/?#]+)$", lien).group(1)
    anon = RoleClient(app, None)
    page = anon.get(f"/password/reset/{token}")
    assert page.status_code == 200
    resp = anon.post(f"/password/reset/{token}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "new_password": "Choisi-2026!",
        "confirm_password": "Choisi-2026!"})
    assert resp.status_code == 302, _text(resp)[:500]
    db.session.remove()
    assert db.session.get(m.Compte, compte_id).must_change_password is False
    assert _login_ok(app, "nouveau1", "Choisi-2026!")


def _login_ok(app, username, password) -> bool:
    """Logged in with that password, the user sees their establishment and not the other one."""
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    resp = c.post("/login", data={"username": username, "password": password, "csrf_token": token})
    grid = _text(c.get("/admin/etablissement/"))
    return resp.status_code == 302 and "Menuiserie Roubaix" in grid and "Garage Tourcoing" not in grid


def siege_id(db) -> int:
    return db.session.scalar(sa.select(m.Compte.id).where(m.Compte.login == "siege"))


def test_refusal_needs_a_reason_cancellation_is_the_requesters_and_guards_hold(app, db, ref, parc):
    s = db.session
    demandes = []
    for login in ("ajout1", "ajout2", "ajout3"):
        d = m.DemandeHabilitation(etablissement_id=parc["e1"], demandeur_id=parc["contact1"], login=login,
                                  nom="Ajout", prenom="Un", email=f"{login}@example.fr")
        s.add(d)
        s.flush()
        demandes.append(d.id)
    s.commit()
    siege, contact1, contact2 = (s.get(m.Compte, siege_id(db)), s.get(m.Compte, parc["contact1"]),
                                 s.get(m.Compte, parc["contact2"]))

    # a refusal without a reason is refused; with one, it is stored and mailed to the requester
    with pytest.raises(InvalidParameters, match="Motif du refus"):
        run(s, HABILITATION, "refuser", Selection.of_ids([demandes[0]]), siege, params={})
    report = run(s, HABILITATION, "refuser", Selection.of_ids([demandes[0]]), siege,
                 params={"motif_refus": "Utilisateur inconnu de l'établissement"})
    s.commit()
    assert report.changed == 1
    mail = s.scalars(sa.select(m.MailOutbox)).one()
    assert mail.template == "demande_habilitation_traitee" and mail.contexte["accordee"] is False

    # only the partner who asked cancels; the siège does not cancel, a partner does not grant
    with pytest.raises(RoleRefused):
        run(s, HABILITATION, "annuler", Selection.of_ids([demandes[1]]), siege)
    with pytest.raises(RoleRefused):
        run(s, HABILITATION, "accorder", Selection.of_ids([demandes[1]]), contact1)
    other = run(s, HABILITATION, "annuler", Selection.of_ids([demandes[1]]), contact2)
    assert other.changed == 0 and other.refused_total == 1  # outside their establishments (scope)
    mine = run(s, HABILITATION, "annuler", Selection.of_ids([demandes[1]]), contact1)
    s.commit()
    assert mine.changed == 1

    # the login was taken meanwhile: the grant is refused with its reason, nothing is created
    s.add(m.Compte(login="ajout3", email="x@example.fr", nom="X", prenom="Y", role=Role.PARTENAIRE,
                   password_hash="x"))
    s.commit()
    comptes = _count(db, m.Compte)
    admin = db.session.scalars(sa.select(m.Compte).where(m.Compte.login == "admin")).one()
    report = run(db.session, HABILITATION, "accorder", Selection.of_ids([demandes[2]]), admin)
    db.session.commit()
    assert report.changed == 0 and any("identifiant déjà utilisé" in r for r in report.refused)
    assert _count(db, m.Compte) == comptes and _count(db, m.CompteEtablissement) == 4
    statuts = dict(db.session.execute(sa.select(m.DemandeHabilitation.login, m.DemandeHabilitation.statut)).all())
    assert statuts == {"ajout1": HabilitationStatut.REFUSEE, "ajout2": HabilitationStatut.ANNULEE,
                       "ajout3": HabilitationStatut.DEMANDEE}


def test_staff_do_not_file_requests_and_a_request_is_never_edited(app, db, parc):
    for role in ("admin", "siege"):
        c = RoleClient(app, role)
        assert c.get("/admin/demande_habilitation/").status_code == 200, role
        assert c.get("/admin/demande_habilitation/new/").status_code == 403, role
    for role in ("manager", "support", "comptable", "conseiller"):
        assert RoleClient(app, role).get("/admin/demande_habilitation/").status_code == 403, role
    assert POLICY["demande_habilitation"].edit == frozenset()


# ---- a partner's scope: their establishments and requests, nothing else -----------------------------

def test_a_partner_sees_their_own_establishments_and_requests_only(app, db, parc):
    s = db.session
    s.add(m.DemandeHabilitation(etablissement_id=parc["e2"], demandeur_id=parc["contact2"], login="chezpetit",
                                nom="Autre", prenom="Un", email="a@example.fr"))
    s.commit()
    contact1 = RoleClient(app, "contact1")
    body = _text(contact1.get("/admin/etablissement/"))
    assert "Menuiserie Roubaix" in body and "Garage Tourcoing" not in body
    tab = re.search(r"Liste\s*\(([^)]*)\)", body)
    assert tab is not None and tab.group(1).strip() == "1"  # the count does not leak the other rows either
    resp = contact1.get(f"/admin/etablissement/details/?id={parc['e2']}")
    assert resp.status_code == 302 and "Garage Tourcoing" not in _text(contact1.get(resp.headers["Location"]))
    assert "chezpetit" not in _text(contact1.get("/admin/demande_habilitation/"))
    assert contact1.get("/admin/etablissement/export/csv/").status_code == 403
    assert contact1.get("/admin/etablissement/new/").status_code == 403
    home = _text(contact1.get("/admin/"))
    assert "/admin/etablissement/" in home and "/admin/beneficiaire/" not in home


def test_every_route_for_a_partner_follows_the_policy_table(app, db, parc, gate_probe):  # noqa: F811
    app.config["AUDIT_SEAL_AFTER_COMMIT"] = False
    c = RoleClient(app, "contact1")
    views = {v.blueprint.name: v for v in app.extensions["admin"][0]._views if v.blueprint is not None}
    allowed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        resp = c.open(_url(rule), method=method, data={"csrf_token": c.token} if method == "POST" else None,
                      headers={"X-Sonde": "1"})
        blueprint, _, name = rule.endpoint.partition(".")
        if rule.endpoint in ROUTES_PUBLIQUES or rule.endpoint in ROUTES_AUTHENTIFIEES:
            expected = True
        else:
            key = views[blueprint].policy_endpoint if hasattr(views[blueprint], "policy_endpoint") else blueprint
            pol = POLICY[key]
            right = DROIT_PAR_METHODE.get(name, "view")
            expected = Role.PARTENAIRE in pol.view and Role.PARTENAIRE in getattr(pol, right)
        assert resp.status_code == (GATE_PASSED if expected else 403), (rule.endpoint, resp.status_code)
        if expected and blueprint in views and rule.endpoint not in ROUTES_AUTHENTIFIEES:
            allowed.add(blueprint)
    # issue 14: the Activité partielle grids, scoped to its establishments (policy.ap_scope)
    # issue 15: and the Afas grids, scoped to the services of its habilitations (policy.afas_scope)
    assert allowed == {"etablissement", "demande_habilitation", "autorisation_ap", "salarie", "demande_indemnisation",
                       "ligne_di", "declaration_partenaire", "lieu_accueil", "ligne_activite", "anomalie",
                       "habilitation_afas",
                       # issue 16: each programme's partner view (policy.programmes_scope, structure_scope): the NACRE
                       # operator, the adultes-relais employer, the service civique host, the ESAT and the EA
                       "convention_nacre", "etat_activite_nacre", "expertise_nacre", "poste_adulte_relais",
                       "declaration_adulte_relais", "paiement_programme", "reversement_programme",
                       "contrat_service_civique", "mois_service_civique", "declaration_garantie", "dotation_dgf",
                       "versement_dgf", "declaration_ea", "reversement_esat"}
