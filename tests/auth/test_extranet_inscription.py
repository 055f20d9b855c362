"""The employer's sign-up per SIRET on the public page (issue 14 §1; R62, R63, R64, R65, R75), over HTTP on the
populated database: SIRET (python-stdnum, La Poste exception), offline captcha (image and audio, single use, the
answer never stored), terms of use, the form's checks, then the siège's or the UD's validation (one row or in bulk on
a filter) and the three mails of R65."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import CompteStatut, CreationCompteStatut, Role, RoleEtablissement
from backoffice.workflows import Selection, run
from backoffice.workflows import captcha
from backoffice.workflows.habilitations import MSG_SIRET_EXISTANT
from backoffice.workflows.inscriptions import INSCRIPTION, MSG_INSCRIPTION_EN_COURS, QUESTIONS, reponse_juste
from tests.conftest import csrf_from
from tests.security.test_partenaires import _etablissement, _siret

pytestmark = pytest.mark.populated

T0 = datetime(2025, 6, 16, 9, 0)
LA_POSTE = "35600000010000"  # R75: fails Luhn, digit sum a multiple of 5: a valid La Poste SIRET


def _text(resp) -> str:
    return unescape(resp.get_data(as_text=True))


def cle_de(html: str) -> str:
    (cle,) = re.findall(r'name="cle_captcha"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="cle_captcha"', html)[:1]
    return cle[0] or cle[1]


def resoudre(client, url):
    """GET the page, read the challenge's key in it and solve it as a person would read the image: from the
    server-side derivation, through the test's own app (never an HTTP endpoint)."""
    html = client.get(url).get_data(as_text=True)
    cle = cle_de(html)
    return csrf_from(html), cle, captcha.reponse(cle)


def etape_siret(client, siret, *, cgu="y", juste=True):
    token, cle, code = resoudre(client, "/extranet/inscription")
    return client.post("/extranet/inscription", data={
        "csrf_token": token, "siret": siret, "cle_captcha": cle, "captcha": code if juste else "000000"[:6],
        **({"cgu": cgu} if cgu else {})})


FORM = {"raison_sociale": "Boulangerie du Beffroi", "libelle_voie": "12 rue de la Gare", "complement_adresse": "",
        "code_postal": "59000", "ville": "Lille", "email_etablissement": "contact@beffroi.example.fr",
        "email_etablissement_confirmation": "contact@beffroi.example.fr", "telephone_etablissement": "03 20 12 34 56",
        "effectif": "8", "contact_nom": "Lemaire", "contact_prenom": "Élodie",
        "contact_email": "elodie.lemaire@beffroi.example.fr",
        "contact_email_confirmation": "elodie.lemaire@beffroi.example.fr", "contact_telephone": "03 20 65 43 21",
        "question_secrete": QUESTIONS[0], "reponse_secrete": "Médor le chien"}


def formulaire(client, **overrides):
    token = csrf_from(client.get("/extranet/inscription/formulaire").get_data(as_text=True))
    return client.post("/extranet/inscription/formulaire", data={"csrf_token": token, **FORM, **overrides})


def inscrire(app, siret, **overrides):
    client = app.test_client()
    resp = etape_siret(client, siret)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/inscription/formulaire"), \
        _text(resp)
    resp = formulaire(client, **overrides)
    assert resp.status_code == 302, _text(resp)
    return client


@pytest.fixture
def horloge(app):
    app.config["NOW_OVERRIDE"] = T0
    yield
    app.config.pop("NOW_OVERRIDE", None)


def test_R63_sign_up_siret_captcha_cgu_then_the_form_answer_stored_hashed(app, db, ref, horloge):
    siret = _siret()
    inscrire(app, siret)
    d = db.session.scalars(sa.select(m.DemandeCreationCompte).where(m.DemandeCreationCompte.siret == siret)).one()
    assert d.statut == CreationCompteStatut.DEPOSEE and d.cgu_acceptees_at == T0
    assert d.telephone_etablissement == "0320123456" and d.contact_prenom == "Élodie"
    # the secret answer: an argon2 digest of its normalised form (case and accents do not count)
    assert d.reponse_secrete_hash.startswith("$argon2id$") and "dor" not in d.reponse_secrete_hash
    assert reponse_juste(d.reponse_secrete_hash, "medor  LE chien") and not reponse_juste(d.reponse_secrete_hash, "x")
    # nothing exists for the establishment until the siège or the UD validates (R65)
    assert db.session.scalars(sa.select(m.Etablissement).where(m.Etablissement.siret == siret)).first() is None


def test_R62_R75_siret_checked_by_stdnum_la_poste_exception_and_refused_when_an_account_exists(app, db, ref, horloge):
    client = app.test_client()
    resp = etape_siret(client, "73282932000075")  # a wrong key
    assert resp.status_code == 400 and "SIRET invalide : la clé de contrôle" in _text(resp)
    existant = _etablissement(db.session)
    db.session.commit()
    resp = etape_siret(client, existant.siret)
    assert resp.status_code == 400 and MSG_SIRET_EXISTANT in _text(resp) and "(R62)" in _text(resp)
    # La Poste: Luhn fails, the digit sum is a multiple of 5 (python-stdnum's exception)
    assert etape_siret(app.test_client(), LA_POSTE).status_code == 302
    # a sign-up under review for the SIRET: a second one is refused
    inscrire(app, siret := _siret())
    resp = etape_siret(app.test_client(), siret)
    assert resp.status_code == 400 and MSG_INSCRIPTION_EN_COURS in _text(resp)


def test_R63_the_terms_and_a_right_captcha_are_required_and_a_challenge_serves_once(app, db, ref, horloge):
    client = app.test_client()
    resp = etape_siret(client, _siret(), cgu=None)
    assert resp.status_code == 400 and "Acceptez les conditions générales" in _text(resp)
    resp = etape_siret(client, _siret(), juste=False)
    assert resp.status_code == 400 and "code de sécurité est incorrect" in _text(resp)
    # replay: the right answer to a challenge already answered (wrong, then right) is refused
    token, cle, code = resoudre(client, "/extranet/inscription")
    data = {"csrf_token": token, "siret": _siret(), "cle_captcha": cle, "cgu": "y"}
    assert client.post("/extranet/inscription", data={**data, "captcha": "999999" if code != "999999" else "111111"}
                       ).status_code == 400
    assert client.post("/extranet/inscription", data={**data, "captcha": code}).status_code == 400
    # a solved challenge opens the form once: the same solved key cannot be replayed for another SIRET
    token, cle, code = resoudre(client, "/extranet/inscription")
    data = {"csrf_token": token, "siret": _siret(), "cle_captcha": cle, "cgu": "y", "captcha": code}
    assert client.post("/extranet/inscription", data=data).status_code == 302
    assert client.post("/extranet/inscription", data={**data, "siret": _siret()}).status_code == 400


def test_the_captcha_has_an_image_and_an_audio_alternative_and_its_answer_is_never_stored(app, db, ref, horloge):
    client = app.test_client()
    html = client.get("/extranet/inscription").get_data(as_text=True)
    cle = cle_de(html)
    code = captcha.reponse(cle)
    assert re.fullmatch(r"\d{6}", code) and code not in html
    assert "<audio" in html and 'alt="Code de sécurité' in html and "Nouveau code" in html
    image = client.get(f"/extranet/captcha/{cle}/image.png")
    audio = client.get(f"/extranet/captcha/{cle}/audio.wav")
    assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n" and image.headers["Cache-Control"] == "no-store"
    assert audio.status_code == 200 and audio.data[:4] == b"RIFF" and audio.mimetype == "audio/wav"
    # the table holds the key's digest only: neither the key nor the answer
    rows = db.session.execute(sa.text("SELECT * FROM defi_captcha")).all()
    dump = repr(rows)
    assert cle not in dump and code not in dump.replace(str(T0.year), "")
    assert client.get("/extranet/captcha/inconnu-inconnu-inconnu-00/image.png").status_code == 404
    # answered: the media are gone too
    token = csrf_from(html)
    client.post("/extranet/inscription", data={"csrf_token": token, "siret": _siret(), "cle_captcha": cle,
                                               "captcha": code, "cgu": "y"})
    assert client.get(f"/extranet/captcha/{cle}/image.png").status_code == 404
    # a challenge expires after 10 minutes
    html = client.get("/extranet/inscription").get_data(as_text=True)
    cle = cle_de(html)
    app.config["NOW_OVERRIDE"] = T0 + timedelta(minutes=11)
    assert client.get(f"/extranet/captcha/{cle}/audio.wav").status_code == 404
    resp = client.post("/extranet/inscription", data={"csrf_token": csrf_from(html), "siret": _siret(),
                                                      "cle_captcha": cle, "captcha": captcha.reponse(cle), "cgu": "y"})
    assert resp.status_code == 400


@pytest.mark.parametrize("overrides, message", [
    ({"contact_email_confirmation": "elodie.lemair@beffroi.example.fr"},
     "Les deux saisies de l'adresse e-mail de la personne à contacter ne correspondent pas (R63)"),
    ({"email_etablissement_confirmation": "contact@befroi.example.fr"},
     "Les deux saisies de l'adresse e-mail de l'établissement ne correspondent pas (R63)"),
    ({"libelle_voie": "12 boulevard de la Liberté prolongé"}, "Libellé de voie : 28 caractères au maximum (R63)"),
    ({"complement_adresse": "x" * 39}, "Complément d'adresse : 38 caractères au maximum (R63)"),
    ({"telephone_etablissement": "06 12 34 56 78"}, "pas un mobile (R63)"),
    ({"contact_telephone": "12345"}, "Numéro de téléphone invalide"),
    ({"raison_sociale": "  "}, "Ce champ est obligatoire"),
    ({"question_secrete": "Ma question à moi ?"}, "Choisissez une question secrète dans la liste"),
])
def test_R63_the_form_refuses_each_bad_field_and_writes_nothing(app, db, ref, horloge, overrides, message):
    client = app.test_client()
    siret = _siret()
    assert etape_siret(client, siret).status_code == 302
    resp = formulaire(client, **overrides)
    assert resp.status_code == 400
    assert message in _text(resp)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.DemandeCreationCompte)
                             .where(m.DemandeCreationCompte.siret == siret)) == 0
    # the form still opens (the solved captcha is used only by a sign-up actually filed)
    assert formulaire(client).status_code == 302


def test_R63_the_form_needs_a_solved_captcha_and_serves_once(app, db, ref, horloge):
    client = app.test_client()
    resp = client.get("/extranet/inscription/formulaire")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/extranet/inscription")
    assert etape_siret(client, siret := _siret()).status_code == 302
    page = _text(client.get("/extranet/inscription/formulaire"))
    assert siret in page and 'data-sans-coller="1"' in page and "sans-coller" in page  # pasting discouraged
    token = csrf_from(client.get("/extranet/inscription/formulaire").get_data(as_text=True))
    ancien = client.get_cookie("session").value  # the browser's session as it was before sending
    assert client.post("/extranet/inscription/formulaire", data={"csrf_token": token, **FORM}).status_code == 302
    # the same session cookie replayed: the solved captcha is spent server-side
    client.set_cookie("session", ancien)
    replay = client.post("/extranet/inscription/formulaire", data={"csrf_token": token, **FORM})
    assert replay.status_code == 302 and replay.headers["Location"].endswith("/extranet/inscription")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.DemandeCreationCompte)
                             .where(m.DemandeCreationCompte.siret == siret)) == 1


def _mails(db, cle_like):
    return db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.cle.like(cle_like))
                              .order_by(m.MailOutbox.id)).all()


def test_R64_R65_the_siege_validates_establishment_account_main_contact_and_three_mails(app, db, ref, horloge):
    siret = _siret()
    inscrire(app, siret)
    d = db.session.scalars(sa.select(m.DemandeCreationCompte).where(m.DemandeCreationCompte.siret == siret)).one()
    report = run(db.session, INSCRIPTION, "valider", Selection.of_ids([d.id]), ref.comptes["siege"], now=T0)
    db.session.commit()
    assert report.changed == 1, report.message()
    db.session.expire_all()
    assert d.statut == CreationCompteStatut.VALIDEE and d.decide_par_id == ref.comptes["siege"].id
    etab, compte = d.etablissement, d.compte
    assert etab.siret == siret and etab.libelle_voie == "12 rue de la Gare" and etab.telephone == "0320123456"
    assert compte.login == "elodie.lemaire" and compte.role == Role.PARTENAIRE and compte.must_change_password
    assert compte.statut == CompteStatut.ACTIF and compte.last_login_at is None
    assert compte.reponse_secrete_hash == d.reponse_secrete_hash and compte.question_secrete == QUESTIONS[0]
    lien = db.session.scalars(sa.select(m.CompteEtablissement).where(m.CompteEtablissement.compte_id == compte.id)).one()
    assert lien.etablissement_id == etab.id and lien.role == RoleEtablissement.CONTACT_PRINCIPAL  # R64
    # R65: three mails to the contact: the login, the password link (48 h), the habilitation; never a password
    ident, = _mails(db, f"inscription-identifiant-{d.id}")
    habil, = _mails(db, f"inscription-habilitation-{d.id}")
    mdp, = [x for x in db.session.scalars(sa.select(m.MailOutbox).where(
        m.MailOutbox.template == "premier_mot_de_passe", m.MailOutbox.destinataire == compte.email))]
    assert {ident.destinataire, habil.destinataire} == {"elodie.lemaire@beffroi.example.fr"}
    assert ident.contexte["login"] == "elodie.lemaire"
    from backoffice.jobs.mail import render
    _sujet, corps = render(mdp.template, mdp.contexte)
    (url,) = re.findall(r"https?://\S+/password/reset/\S+", corps)
    assert "lien" not in mdp.contexte  # the outbox holds a reference, the link is derived at send time
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert app.test_client().get("/" + path).status_code == 200
    jeton = db.session.scalars(sa.select(m.JetonCompte).where(m.JetonCompte.compte_id == compte.id)).one()
    assert jeton.expires_at == T0 + timedelta(hours=48)
    # running it again changes nothing; a sign-up whose SIRET got an account meanwhile is refused (R62)
    assert run(db.session, INSCRIPTION, "valider", Selection.of_ids([d.id]), ref.comptes["siege"], now=T0).changed == 0
    inscrire(app, siret2 := _siret(), contact_nom="Martin")
    d2 = db.session.scalars(sa.select(m.DemandeCreationCompte).where(m.DemandeCreationCompte.siret == siret2)).one()
    _etablissement(db.session, siret=siret2)
    db.session.commit()
    report = run(db.session, INSCRIPTION, "valider", Selection.of_ids([d2.id]), ref.comptes["siege"], now=T0)
    assert report.changed == 0 and any("(R62)" in r for r in report.refused)


def test_R65_the_UD_validates_its_departement_in_bulk_on_a_filter_and_refuses_with_a_reason(app, db, ref, horloge):
    from tests.security.conftest import RoleClient
    nord = [_siret() for _ in range(3)]
    for k, siret in enumerate(nord):
        inscrire(app, siret, contact_nom=f"Nord{k}", code_postal="59100")
    inscrire(app, paris := _siret(), contact_nom="Paris", code_postal="75011")
    ud = RoleClient(app, "ud")
    page = _text(ud.get("/admin/demande_creation_compte/"))
    assert all(s in page for s in nord) and paris not in page
    # bulk on the filter « statut = déposée »: the dry run first, then the run on exactly those rows
    assert "Valider l'inscription" in _text(ud.get("/admin/demande_creation_compte/?flt0_0=deposee"))
    resp = ud.post("/admin/demande_creation_compte/workflow/valider/filtered?flt0_0=deposee",
                   data={"csrf_token": ud.token})
    assert resp.status_code == 302
    apercu = _text(ud.get(resp.headers["Location"]))
    assert "3" in apercu
    resp = ud.post(resp.headers["Location"], data={"csrf_token": ud.token})
    db.session.remove()
    statuts = dict(db.session.execute(sa.select(m.DemandeCreationCompte.siret, m.DemandeCreationCompte.statut)).all())
    assert all(statuts[s] == CreationCompteStatut.VALIDEE for s in nord), _text(resp)[:3000]
    assert statuts[paris] == CreationCompteStatut.DEPOSEE  # another département: untouched
    # the UD may not touch the Paris sign-up even by id: a missing row
    d_paris = db.session.scalars(sa.select(m.DemandeCreationCompte).where(m.DemandeCreationCompte.siret == paris)).one()
    compte = {c.login: c for c in db.session.scalars(sa.select(m.Compte).where(m.Compte.login.in_(("ud", "siege"))))}
    report = run(db.session, INSCRIPTION, "refuser", Selection.of_ids([d_paris.id]), compte["ud"],
                 params={"motif_refus": "Doublon"}, now=T0)
    assert report.changed == 0 and report.refused == {"introuvable ou supprimée": 1}
    report = run(db.session, INSCRIPTION, "refuser", Selection.of_ids([d_paris.id]), compte["siege"],
                 params={"motif_refus": "SIRET d'un établissement fermé"}, now=T0)
    db.session.commit()
    assert report.changed == 1
    (refus,) = _mails(db, f"inscription-refusee-{d_paris.id}")
    assert refus.contexte["motif"] == "SIRET d'un établissement fermé"
    # a partner never sees the sign-ups
    assert app.test_client().get("/admin/demande_creation_compte/").status_code == 302  # anonymous: the login page
