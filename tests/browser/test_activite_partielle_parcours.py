"""Activité partielle end to end in a real browser (issue 14): an employer signs up on the public page (SIRET,
captcha, CGU, the form with its e-mails typed twice), the siège validates the sign-up from its grid, the employer
chooses a password through the mailed link, gives its IBAN, files a claim (DI) with the decision's secret code,
types a line and sends it; a UD agent validates it in bulk on a filter.

The captcha is solved as a person reads it: the test takes the challenge's key from the page and derives the
answer through the test's own application (workflows.captcha.reponse, SECRET_KEY) — no HTTP endpoint gives it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta  # noqa: F401
from decimal import Decimal

import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import CreationCompteStatut, DIStatut, MotifAP
from backoffice.workflows import Selection, captcha, run
from backoffice.workflows import activite_partielle as ap
from tests.browser.conftest import login
from tests.security.test_partenaires import _siret
from tests.workflows.test_activite_partielle import code_du_mail

MOT_DE_PASSE = "Beffroi-2025!"
T0 = datetime(2025, 6, 16, 9, 0)


def _lien_du_mail(db, destinataire, template):
    from backoffice.jobs.mail import render
    db.session.expire_all()
    mail = db.session.scalars(sa.select(m.MailOutbox).where(m.MailOutbox.template == template,
                                                            m.MailOutbox.destinataire == destinataire)).one()
    (lien,) = re.findall(r"https?://\S+(/password/reset/\S+)", render(mail.template, mail.contexte)[1])
    return lien


def _filtrer(app, endpoint, colonne, valeur):
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)
        return view.filtered_url(colonne, valeur)


def _en_masse(page, app, base, endpoint, colonne, valeur, transition):
    page.goto(f"{base}{_filtrer(app, endpoint, colonne, valeur)}")
    page.click("#menu-toutes-lignes > a")
    page.click(f"#menu-toutes-lignes button[data-transition={transition}]")
    page.wait_for_selector("#apercu")
    page.click("#bouton-confirmer")
    page.wait_for_selector("#resultat")
    return page.inner_text("#resultat-modifiees")


def test_an_employer_signs_up_is_validated_files_a_claim_and_the_UD_validates_it_in_bulk(app, db, ref, live_server,
                                                                                          browser):
    base = live_server
    app.config["NOW_OVERRIDE"] = T0  # the server's clock too (the dated floor of R74, the links' expiry)
    siret = _siret()
    employeur = browser.new_context(locale="fr-FR").new_page()
    employeur.set_default_timeout(15000)

    # 1. the public sign-up: SIRET, captcha (image + audio), CGU
    employeur.goto(f"{base}/login")
    employeur.click("text=Créer mon espace")
    employeur.fill("input[name=siret]", siret)
    assert employeur.locator("#controle-securite img").is_visible()
    assert employeur.locator("#controle-securite audio").count() == 1
    cle = employeur.input_value("input[name=cle_captcha]")
    employeur.fill("input[name=captcha]", captcha.reponse(cle))
    employeur.check("input[name=cgu]")
    employeur.click("button[type=submit]")
    employeur.wait_for_url(f"{base}/extranet/inscription/formulaire")

    # 2. the form; pasting into an e-mail field is refused by the page (R63)
    assert employeur.inner_text("#siret-inscription") == siret
    colle = employeur.evaluate("""() => {
        const champ = document.querySelector('input[name=contact_email_confirmation]');
        const e = new ClipboardEvent('paste', {bubbles: true, cancelable: true});
        champ.dispatchEvent(e);
        return e.defaultPrevented && !document.getElementById(champ.id + '-sans-coller').hidden; }""")
    assert colle is True
    for name, value in {"raison_sociale": "Boulangerie du Beffroi", "libelle_voie": "12 rue de la Gare",
                        "code_postal": "59000", "ville": "Lille", "email_etablissement": "contact@beffroi.example.fr",
                        "email_etablissement_confirmation": "contact@beffroi.example.fr",
                        "telephone_etablissement": "03 20 12 34 56", "effectif": "8", "contact_nom": "Lemaire",
                        "contact_prenom": "Élodie", "contact_email": "elodie@beffroi.example.fr",
                        "contact_email_confirmation": "elodie@beffroi.example.fr",
                        "contact_telephone": "03 20 65 43 21", "reponse_secrete": "Médor"}.items():
        employeur.fill(f"input[name={name}]", value)
    employeur.select_option("select[name=question_secrete]", index=1)
    employeur.click("button[type=submit]")
    employeur.wait_for_url(f"{base}/login")
    assert "Votre demande de création de compte est envoyée" in employeur.inner_text("body")

    # 3. the siège validates the sign-up from its grid (bulk on the filter « déposée »)
    siege = browser.new_context(locale="fr-FR").new_page()
    siege.set_default_timeout(15000)
    login(siege, base, "siege")
    assert "1" in _en_masse(siege, app, base, "demande_creation_compte", "statut", "deposee", "valider")
    db.session.expire_all()
    demande = db.session.scalars(sa.select(m.DemandeCreationCompte).where(m.DemandeCreationCompte.siret == siret)).one()
    assert demande.statut == CreationCompteStatut.VALIDEE
    etab_id, login_employeur = demande.etablissement_id, demande.compte.login
    assert login_employeur == "elodie.lemaire"

    # the UD has granted an authorisation (its decision notice carries the secret code, R71)
    contact = db.session.get(m.Compte, demande.compte_id)
    salarie = m.Salarie(etablissement_id=etab_id, nom="Lefebvre", prenom="Paul", taux_horaire_brut=Decimal("15.00"),
                        heures_contrat_mensuelles=Decimal("151.67"))
    db.session.add(salarie)
    debut, fin = date(2025, 4, 1), date(2025, 6, 30)
    a = ap.deposer_autorisation(db.session, actor=contact, etablissement_id=etab_id, motif=MotifAP.CONJONCTURE,
                                date_debut=debut, date_fin=fin, nb_salaries=1, heures_prevues=Decimal("35"),
                                now=datetime.combine(debut, datetime.min.time()) - timedelta(days=20))
    ud_compte = db.session.scalars(sa.select(m.Compte).where(m.Compte.login == "ud")).one()
    assert run(db.session, ap.AUTORISATION, "accorder", Selection.of_ids([a.id]), ud_compte,
               now=a.deposee_at + timedelta(days=2)).changed == 1
    db.session.commit()
    code = code_du_mail(db.session, a.id)
    salarie_id, mois = salarie.id, debut

    # 4. the employer chooses a password through the mailed link (R65: a link, never a password), logs in
    employeur.goto(base + _lien_du_mail(db, "elodie@beffroi.example.fr", "premier_mot_de_passe"))
    employeur.fill("input[name=new_password]", MOT_DE_PASSE)
    employeur.fill("input[name=confirm_password]", MOT_DE_PASSE)
    employeur.click("button[type=submit]")
    employeur.wait_for_url(f"{base}/login")
    login(employeur, base, login_employeur, MOT_DE_PASSE)

    # its IBAN, checked by schwifty (a wrong key refused in French, the right one saved)
    employeur.goto(f"{base}/admin/etablissement/edit/?id={etab_id}")
    employeur.fill("input[name=iban]", "FR14 2004 1010 0505 0001 3M02 607")
    employeur.click("form.admin-form input[type=submit] >> nth=0")
    assert "Clé de contrôle de l'IBAN incorrecte" in employeur.inner_text("body")
    employeur.fill("input[name=iban]", "FR14 2004 1010 0505 0001 3M02 606")
    employeur.click("form.admin-form input[type=submit] >> nth=0")
    employeur.wait_for_url(re.compile(r".*/admin/etablissement/.*"))
    db.session.expire_all()
    assert db.session.get(m.Etablissement, etab_id).iban == "FR1420041010050500013M02606"

    # 5. the claim: the tableau de suivi from the menu, the secret code, a line, then « Envoyer à l'UD »
    employeur.goto(f"{base}/admin/")
    employeur.click("a.dropdown-toggle:has-text('Activité partielle')")
    employeur.click("a.dropdown-item:has-text('Tableau de suivi')")
    employeur.wait_for_url(f"{base}/admin/demande_indemnisation/suivi")
    employeur.goto(f"{base}/admin/demande_indemnisation/new/")
    employeur.fill("input[name=code_secret]", code)
    employeur.fill("input[name=annee]", str(mois.year))
    employeur.fill("input[name=mois]", str(mois.month))
    employeur.click("form.admin-form input[type=submit] >> nth=0")
    employeur.wait_for_url(re.compile(r".*/admin/demande_indemnisation/(\?.*)?$"))
    db.session.expire_all()
    di = db.session.scalars(sa.select(m.DemandeIndemnisation).where(
        m.DemandeIndemnisation.autorisation_id == a.id)).one()
    employeur.goto(f"{base}/admin/ligne_di/new/")
    employeur.evaluate("""([d, s]) => {
        document.querySelector('input[name=demande]').value = d;
        document.querySelector('input[name=salarie]').value = s; }""", [str(di.id), str(salarie_id)])
    employeur.fill("input[name=heures_travaillees]", "0")
    employeur.fill("input[name=heures_chomees]", "35")
    employeur.click("form.admin-form input[type=submit] >> nth=0")
    employeur.wait_for_url(re.compile(r".*/admin/ligne_di/(\?.*)?$"))
    employeur.goto(f"{base}/admin/demande_indemnisation/details/?id={di.id}")
    assert "315,00" in employeur.inner_text("#total-indemnites")  # R74, E10: 35 h × 15 € × 60 %
    employeur.goto(f"{base}/admin/demande_indemnisation/")
    employeur.click(f"form:has(input[name=id][value='{di.id}']) button[data-transition=envoyer]")
    employeur.wait_for_load_state()
    db.session.expire_all()
    assert db.session.get(m.DemandeIndemnisation, di.id).statut == DIStatut.ENVOYEE

    # 6. the UD agent validates every sent claim of its département in bulk, on the filter
    ud = browser.new_context(locale="fr-FR").new_page()
    ud.set_default_timeout(15000)
    login(ud, base, "ud")
    assert "1" in _en_masse(ud, app, base, "demande_indemnisation", "statut", "envoyee", "valider")
    db.session.expire_all()
    di = db.session.get(m.DemandeIndemnisation, di.id)
    assert di.statut == DIStatut.VALIDEE and di.montant_allocation == Decimal("296.10")
    echeance = db.session.scalars(sa.select(m.Echeance).where(m.Echeance.source_id == di.id)).all()
    assert len(echeance) == 1 and echeance[0].montant == Decimal("296.10")
