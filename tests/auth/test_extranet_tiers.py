"""R64, the tiers déclarant (issue 14 §1), over HTTP on the populated database: logged in, it repeats the sign-up
for each further establishment [S004]; the siège (or the UD) validates it and the establishment is linked to the
same account (its main contact), no second account, the habilitation mail only (R65: its credentials do not
change); 200 establishments per account at most [W24], the 201st refused in French; the tiers then sees the claims
of all its establishments and nothing of another employer's."""

from __future__ import annotations

import html
from types import SimpleNamespace
from datetime import datetime

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import CompteStatut, CreationCompteStatut, RoleEtablissement
from backoffice.workflows import Selection, run
from backoffice.workflows import activite_partielle as ap
from backoffice.workflows.habilitations import MAX_ETABLISSEMENTS_PAR_COMPTE
from backoffice.workflows.inscriptions import (INSCRIPTION, MSG_PLAFOND_TIERS, QUESTIONS, deposer_rattachement,
                                               hash_reponse)
from tests.auth.test_extranet_inscription import FORM, etape_siret, resoudre
from tests.security.conftest import RoleClient
from tests.security.test_partenaires import _siret
from tests.workflows.test_activite_partielle import accorder, deposer, make_employeur

pytestmark = pytest.mark.populated

T0 = datetime(2025, 6, 16, 9, 0)
ETABLISSEMENT = {k: FORM[k] for k in ("raison_sociale", "libelle_voie", "complement_adresse", "code_postal", "ville",
                                      "email_etablissement", "email_etablissement_confirmation",
                                      "telephone_etablissement", "effectif", "contact_telephone")}


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


@pytest.fixture
def cabinet(app, db, ref):
    """A tiers déclarant (an accounting firm) already the main contact of one establishment, with an authorised
    DAP and a claim; another employer with its own claim."""
    app.config["NOW_OVERRIDE"] = T0
    s = db.session
    e1, tiers = make_employeur(s, "cabinet.compta")
    tiers.question_secrete, tiers.reponse_secrete_hash = QUESTIONS[1], hash_reponse("Lille")
    tiers.last_login_at = T0
    e9, autre = make_employeur(s, "autre.employeur")
    a1, a9 = deposer(s, e1, tiers), deposer(s, e9, autre)
    code1, code9 = accorder(s, ref, a1), accorder(s, ref, a9)
    di1 = ap.creer_di(s, actor=tiers, code=code1, annee=2025, mois=2, now=T0)
    di9 = ap.creer_di(s, actor=autre, code=code9, annee=2025, mois=2, now=T0)
    s.commit()
    yield dict(tiers=tiers.id, login=tiers.login, e1=e1.id, e9=e9.id, di1=di1.id, di9=di9.id, a9=a9.id)
    app.config.pop("NOW_OVERRIDE", None)


def _rattacher(app, client, siret, **overrides):
    """The tiers, logged in, files the sign-up of a further establishment: SIRET + captcha + CGU, then the form."""
    resp = etape_siret(client, siret)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/inscription/formulaire"), \
        _text(resp)[:2000]
    page = client.get("/extranet/inscription/formulaire")
    from tests.conftest import csrf_from
    return page, client.post("/extranet/inscription/formulaire",
                             data={"csrf_token": csrf_from(page.get_data(as_text=True)), **ETABLISSEMENT,
                                   **overrides})


def _mails(db, **where):
    q = sa.select(m.MailOutbox)
    for k, v in where.items():
        q = q.where(getattr(m.MailOutbox, k) == v)
    return db.session.scalars(q.order_by(m.MailOutbox.id)).all()


def test_R64_a_tiers_declarant_signs_up_a_second_siret_linked_to_its_account_with_the_habilitation_mail(
        app, db, cabinet):
    c = cabinet
    client = RoleClient(app, c["login"])
    suivi = _text(client.get("/admin/demande_indemnisation/suivi"))
    assert 'id="ajouter-etablissement"' in suivi and "Déclarer un autre établissement" in suivi
    page = _text(client.get("/extranet/inscription"))
    assert "cabinet.compta" in page and "gère 1 établissement(s)" in page and "sur 200 au plus (R64)" in page
    comptes_avant = db.session.scalar(sa.select(sa.func.count()).select_from(m.Compte))

    siret = _siret()
    formulaire, resp = _rattacher(app, client, siret, raison_sociale="Boulangerie du Beffroi (client 2)")
    # the form asks the establishment only: the contact is the account, frozen (R64)
    html_form = _text(formulaire)
    assert 'name="contact_nom"' not in html_form and 'name="reponse_secrete"' not in html_form
    assert "Lise Durand" in html_form and "cabinet.compta" in html_form
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/demande_indemnisation/suivi")
    assert "rattaché à votre compte" in _text(client.get(resp.headers["Location"]))
    db.session.remove()
    d = db.session.scalars(sa.select(m.DemandeCreationCompte).where(m.DemandeCreationCompte.siret == siret)).one()
    tiers = db.session.get(m.Compte, c["tiers"])
    assert d.statut == CreationCompteStatut.DEPOSEE and d.compte_id == tiers.id
    assert (d.contact_nom, d.contact_prenom, d.contact_email) == (tiers.nom, tiers.prenom, tiers.email)
    assert d.reponse_secrete_hash == tiers.reponse_secrete_hash
    did = d.id

    # the siège sees it as the account's and validates it (row button, the same INSCRIPTION workflow, R65)
    siege = RoleClient(app, "siege")
    detail = _text(siege.get(f"/admin/demande_creation_compte/details/?id={did}"))
    assert "cabinet.compta" in detail
    resp = siege.post("/admin/demande_creation_compte/workflow/valider/row",
                      data={"csrf_token": siege.token, "id": str(did)})
    assert resp.status_code == 302
    db.session.remove()
    d = db.session.get(m.DemandeCreationCompte, did)
    tiers = db.session.get(m.Compte, c["tiers"])
    assert d.statut == CreationCompteStatut.VALIDEE and d.compte_id == c["tiers"]
    # no second account: the new establishment is linked to the tiers, as its main contact (R64)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.Compte)) == comptes_avant
    liens = db.session.execute(sa.select(m.CompteEtablissement.etablissement_id, m.CompteEtablissement.role)
                               .where(m.CompteEtablissement.compte_id == c["tiers"])).all()
    assert dict(liens) == {c["e1"]: RoleEtablissement.CONTACT_PRINCIPAL,
                           d.etablissement_id: RoleEtablissement.CONTACT_PRINCIPAL}
    assert d.etablissement.referent_nom == "Lise Durand" and d.etablissement.siret == siret
    # R65: no new credentials (no login mail, no password link), the habilitation only, to the account's address
    assert _mails(db, cle=f"inscription-identifiant-{d.id}") == []
    assert _mails(db, template="premier_mot_de_passe", destinataire=tiers.email) == []
    (habil,) = _mails(db, cle=f"inscription-habilitation-{d.id}")
    assert habil.destinataire == tiers.email and habil.contexte["rattachement"] is True
    from backoffice.jobs.mail import render
    with app.test_request_context():
        _sujet, corps = render(habil.template, habil.contexte)
    assert "rattaché à votre compte cabinet.compta" in corps and "ne changent pas" in corps

    # the tiers now files for the new establishment too, and sees both establishments' claims, nothing else
    e2 = db.session.get(m.Etablissement, d.etablissement_id)
    a2 = deposer(db.session, e2, tiers)
    ud = SimpleNamespace(comptes={"ud": db.session.scalars(sa.select(m.Compte).where(m.Compte.login == "ud")).one()})
    di2 = ap.creer_di(db.session, actor=tiers, code=accorder(db.session, ud, a2), annee=2025, mois=2, now=T0)
    db.session.commit()
    etabs = _text(client.get("/admin/etablissement/"))
    assert "Boulangerie du Beffroi (client 2)" in etabs and "Menuiserie cabinet.compta" in etabs
    assert "Menuiserie autre.employeur" not in etabs
    suivi = client.get("/admin/demande_indemnisation/suivi").get_data(as_text=True)
    assert f'data-id="{c["di1"]}"' in suivi and f'data-id="{di2.id}"' in suivi and f'data-id="{c["di9"]}"' not in suivi
    export = _text(client.get("/admin/demande_indemnisation/export/csv/"))
    numeros = dict(db.session.execute(sa.select(m.AutorisationAP.id, m.AutorisationAP.numero)).all())
    assert numeros[a2.id] in export and numeros[c["a9"]] not in export
    # another employer's establishment and claim by URL: answered as missing ones
    assert client.get(f"/admin/etablissement/details/?id={c['e9']}").status_code in (302, 404)
    assert client.get(f"/admin/etablissement/edit/?id={c['e9']}").status_code in (302, 404)
    assert client.get(f"/admin/demande_indemnisation/details/?id={c['di9']}").status_code in (302, 404)
    assert client.get(f"/admin/etablissement/details/?id={e2.id}").status_code == 200


def _etablissements_en_masse(s, compte_id, n):
    """n establishments linked to the account (set-based, fast): the tiers' portfolio."""
    ids = s.execute(sa.insert(m.Etablissement).returning(m.Etablissement.id), [
        dict(siret=_siret(), raison_sociale=f"Client {k}", libelle_voie="1 rue", code_postal="59000", ville="Lille",
             email="rh@client.example.fr", referent_nom="Lise Durand") for k in range(n)]).scalars().all()
    s.execute(sa.insert(m.CompteEtablissement), [dict(compte_id=compte_id, etablissement_id=i,
                                                      role=RoleEtablissement.CONTACT_PRINCIPAL) for i in ids])


def test_R64_the_201st_establishment_is_refused_in_french_and_nothing_is_written(app, db, cabinet):
    c = cabinet
    s = db.session
    # 1 + 198 linked, and one sign-up under review: 200 counted
    _etablissements_en_masse(s, c["tiers"], MAX_ETABLISSEMENTS_PAR_COMPTE - 2)
    s.commit()
    client = RoleClient(app, c["login"])
    assert _rattacher(app, client, _siret())[1].status_code == 302  # the 200th
    page = _text(client.get("/extranet/inscription"))
    assert "gère 200 établissement(s)" in page
    avant = s.scalar(sa.select(sa.func.count()).select_from(m.DemandeCreationCompte))
    siret = _siret()
    resp = etape_siret(client, siret)
    assert resp.status_code == 400 and MSG_PLAFOND_TIERS in _text(resp)
    assert "200 au plus (R64)" in MSG_PLAFOND_TIERS
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.DemandeCreationCompte)) == avant
    # the form cannot be reached around the first step, nor the workflow around the form
    assert client.get("/extranet/inscription/formulaire").status_code == 302
    tiers = db.session.get(m.Compte, c["tiers"])
    from backoffice.workflows.errors import TransitionRefused
    with pytest.raises(TransitionRefused, match=r"200 au plus \(R64\)"):
        deposer_rattachement(db.session, compte=tiers, siret=siret, donnees=ETABLISSEMENT,
                             email_etablissement_confirmation=ETABLISSEMENT["email_etablissement"], now=T0)
    db.session.rollback()


def test_R64_the_validation_links_200_at_most_even_in_bulk_and_never_to_a_deactivated_account(app, db, cabinet):
    """Links made meanwhile by other means (an administrator) still count: a bulk validation lets the first ones
    in id order pass up to 200 and names the rule for the others."""
    c = cabinet
    s = db.session
    tiers = s.get(m.Compte, c["tiers"])
    siege = s.scalars(sa.select(m.Compte).where(m.Compte.login == "siege")).one()

    def rattacher():
        return deposer_rattachement(s, compte=tiers, siret=_siret(), donnees=ETABLISSEMENT,
                                    email_etablissement_confirmation=ETABLISSEMENT["email_etablissement"], now=T0)

    # a deactivated tiers: its sign-up is refused with the rule, never linked
    seule = rattacher()
    s.execute(sa.update(m.Compte).where(m.Compte.id == c["tiers"]).values(statut=CompteStatut.DESACTIVE))
    s.commit()
    report = run(s, INSCRIPTION, "valider", Selection.of_ids([seule.id]), siege, now=T0)
    assert report.changed == 0 and any("désactivé (R64)" in r for r in report.refused), report.message()
    s.execute(sa.update(m.Compte).where(m.Compte.id == c["tiers"]).values(statut=CompteStatut.ACTIF))
    s.commit()

    demandes = [seule] + [rattacher() for _ in range(2)]
    _etablissements_en_masse(s, c["tiers"], MAX_ETABLISSEMENTS_PAR_COMPTE - 1 - 2)  # 198 linked now
    s.commit()
    ids = [d.id for d in demandes]
    report = run(s, INSCRIPTION, "valider", Selection.of_ids(ids), siege, now=T0)
    s.commit()
    assert report.changed == 2, report.message()
    (raison,) = report.refused
    assert "200 établissements" in raison and "(R64)" in raison
    statuts = dict(s.execute(sa.select(m.DemandeCreationCompte.id, m.DemandeCreationCompte.statut)
                             .where(m.DemandeCreationCompte.id.in_(ids))).all())
    assert [statuts[i] for i in ids] == [CreationCompteStatut.VALIDEE] * 2 + [CreationCompteStatut.DEPOSEE]
    assert s.scalar(sa.select(sa.func.count()).select_from(m.CompteEtablissement)
                    .where(m.CompteEtablissement.compte_id == c["tiers"])) == MAX_ETABLISSEMENTS_PAR_COMPTE


def test_R64_an_anonymous_sign_up_still_creates_its_own_account_and_a_started_one_does_not_switch_person(
        app, db, cabinet):
    """The public page keeps the first-user sign-up (R63, R65); the tiers is told to log in first. A SIRET step
    passed anonymously does not open the tiers' form once logged in (the same person from the SIRET to the form)."""
    anonyme = app.test_client()
    page = _text(anonyme.get("/extranet/inscription"))
    assert "connectez-vous" in page and "rattaché à votre compte (R64)" in page
    assert etape_siret(anonyme, _siret()).status_code == 302
    assert 'name="contact_nom"' in _text(anonyme.get("/extranet/inscription/formulaire"))
    client = RoleClient(app, cabinet["login"])
    token, cle, code = resoudre(client, "/extranet/inscription")
    # the SIRET step's state carried to another browser (not logged in as the tiers): the form starts again
    assert client.post("/extranet/inscription", data={"csrf_token": token, "siret": _siret(), "cle_captcha": cle,
                                                      "captcha": code, "cgu": "y"}).status_code == 302
    with client.session_transaction() as sess:
        etat = dict(sess["inscription_ap"])
    autre = app.test_client()
    with autre.session_transaction() as sess:
        sess["inscription_ap"] = etat
    resp = autre.get("/extranet/inscription/formulaire")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/inscription")
