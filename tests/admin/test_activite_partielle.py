"""Activité partielle through the screens (issue 14), on the populated database, as the employer and the UD
would use them with the HTTP test client: E10 typed in the UI with its totals shown, a claim capped at the
contract hours, the import page, a wrong code, the employer's own establishments only."""

from __future__ import annotations

import html
import io
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import DIStatut
from backoffice.workflows import activite_partielle as ap
from backoffice.workflows import pieces
from tests.security.conftest import RoleClient
from tests.workflows.test_activite_partielle import accorder, deposer, make_employeur, salarie

pytestmark = pytest.mark.populated

T0 = datetime(2025, 6, 16, 9, 0)


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _post(client, url, data, **kw):
    return client.post(url, data={**data, "csrf_token": client.token}, **kw)


@pytest.fixture
def deux_employeurs(app, db, ref):
    app.config["NOW_OVERRIDE"] = T0
    s = db.session
    e1, c1 = make_employeur(s, "emp1")
    e2, c2 = make_employeur(s, "emp2")
    a1, a2 = deposer(s, e1, c1), deposer(s, e2, c2)
    code1, code2 = accorder(s, ref, a1), accorder(s, ref, a2)
    di2 = ap.creer_di(s, actor=c2, code=code2, annee=2025, mois=2, now=T0)
    piece2 = pieces.enregistrer_piece(s, actor=c2, contenu=b"%PDF-1.4 avis", nom_fichier="avis.pdf",
                                      etablissement_id=e2.id)
    sal = [salarie(s, e1, t, nom=f"S{k}") for k, t in enumerate(("15.00", "30.00", "60.00"))]
    capped = salarie(s, e1, "15.00", heures_contrat="100", nom="Plafonne")
    s.commit()
    yield dict(e1=e1.id, e2=e2.id, a1=a1.id, a2=a2.id, code1=code1, code2=code2, di2=di2.id, piece2=piece2.id,
               sal=[x.id for x in sal], capped=capped.id, login1=c1.login)
    app.config.pop("NOW_OVERRIDE", None)


def test_R71_R74_E10_and_a_capped_employee_typed_in_the_UI_with_the_totals_shown(app, db, deux_employeurs):
    _e10_dans_l_ecran(app, db, deux_employeurs)


def _e10_dans_l_ecran(app, db, d):
    """E10 and a capped employee typed through the screens by the employer; the claim's id."""
    client = RoleClient(app, d["login1"])
    # a wrong code is refused, nothing created
    resp = _post(client, "/admin/demande_indemnisation/new/", {"code_secret": "ZZZZZZZZZZ", "annee": "2025",
                                                               "mois": "2"})
    assert "Code secret incorrect" in _text(resp) and "(R71)" in _text(resp)
    # outside the period (R71)
    resp = _post(client, "/admin/demande_indemnisation/new/", {"code_secret": d["code1"], "annee": "2025",
                                                               "mois": "5"})
    assert "n'est pas dans la période autorisée" in _text(resp)
    resp = _post(client, "/admin/demande_indemnisation/new/", {"code_secret": d["code1"], "annee": "2025",
                                                               "mois": "2"})
    assert resp.status_code == 302, _text(resp)
    db.session.remove()
    di = db.session.scalars(sa.select(m.DemandeIndemnisation).join(m.AutorisationAP).where(
        m.AutorisationAP.id == d["a1"])).one()
    # E10: 35 idle hours at 15, 30 and 60 €/h; the 4th employee: 120 idle hours on a 100-hour contract
    for sid, chomees in zip(d["sal"] + [d["capped"]], ("35", "35", "35", "120")):
        resp = _post(client, "/admin/ligne_di/new/", {"demande": str(di.id), "salarie": str(sid),
                                                      "heures_travaillees": "0", "heures_chomees": chomees})
        assert resp.status_code == 302, _text(resp)
    page = _text(client.get(f"/admin/demande_indemnisation/details/?id={di.id}"))
    for montant in ("315,00", "296,10", "630,00", "378,00", "1 122,66", "673,60", "900,00", "846,00"):
        assert montant.replace(" ", "\u202f") in page or montant.replace(" ", "\u00a0") in page or montant in page
    db.session.remove()
    di = db.session.get(m.DemandeIndemnisation, di.id)
    assert (di.montant_indemnites, di.montant_allocation) == (Decimal("2967.66"), Decimal("2193.70"))
    capped = [x for x in di.lignes if x.salarie_id == d["capped"]][0]
    assert capped.heures_retenues == Decimal("100.00")  # R74: at most the contract hours
    assert di.statut == DIStatut.EN_SAISIE
    # the tableau de suivi shows it with its status
    suivi = _text(client.get("/admin/demande_indemnisation/suivi"))
    assert "02/2025" in suivi and "En saisie" in suivi
    return di.id, client


def test_R74_E10_typed_in_the_UI_is_sent_validated_by_the_UD_and_paid_through_a_SEPA_batch(app, db, ref,
                                                                                          deux_employeurs):
    """Issue 14, « Must show » 1: the same claim sent by the employer (row button), validated by the UD (row
    button), its payable put in a batch by the siège and the batch emitted: the SEPA file pays the allocation
    (2 193,70 €, R74) to the establishment's IBAN; reconciled, the claim is « payée »."""
    from backoffice.sepa import lire
    from backoffice.workflows import Selection, run
    from backoffice.workflows.echeances import ECHEANCE
    from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
    di_id, client = _e10_dans_l_ecran(app, db, deux_employeurs)
    resp = _post(client, "/admin/demande_indemnisation/workflow/envoyer/row", {"id": str(di_id)})
    assert resp.status_code == 302
    ud = RoleClient(app, "ud")
    resp = _post(ud, "/admin/demande_indemnisation/workflow/valider/row", {"id": str(di_id)})
    assert resp.status_code == 302
    db.session.remove()
    assert db.session.get(m.DemandeIndemnisation, di_id).statut == DIStatut.VALIDEE
    ech = db.session.scalars(sa.select(m.Echeance).where(m.Echeance.source_id == di_id,
                                                         m.Echeance.montant == Decimal("2193.70"))).one()
    etab = db.session.get(m.Etablissement, deux_employeurs["e1"])
    assert ech.iban == etab.iban
    comptes = {c.login: c for c in db.session.scalars(sa.select(m.Compte).where(
        m.Compte.login.in_(("siege", "comptable"))))}
    assert run(db.session, ECHEANCE, "mettre_en_lot", Selection.of_ids([ech.id]), comptes["siege"],
               now=T0).changed == 1
    pay = db.session.scalars(sa.select(m.Paiement).where(m.Paiement.echeance_id == ech.id)).one()
    emettre_lot(db.session, pay.lot_id, now=T0, actor=comptes["comptable"])
    db.session.commit()
    assert lire(db.session.get(m.LotPaiement, pay.lot_id).fichier_sepa) == [(pay.end_to_end_id, Decimal("2193.70"))]
    rapprocher_lot(db.session, pay.lot_id, actor=comptes["comptable"], now=T0)
    db.session.commit()
    db.session.remove()
    assert db.session.get(m.DemandeIndemnisation, di_id).statut == DIStatut.PAYEE


def test_import_page_lists_both_errors_and_writes_nothing_then_the_fixed_file_is_accepted(app, db,
                                                                                          deux_employeurs):
    from openpyxl import Workbook
    from tests.workflows.test_activite_partielle import CSV_FAUX
    d = deux_employeurs
    client = RoleClient(app, d["login1"])
    count = sa.select(sa.func.count()).select_from(m.Salarie).where(m.Salarie.etablissement_id == d["e1"])
    before = db.session.scalar(count)
    rows = [line.split(";") for line in CSV_FAUX.strip().split("\n")]
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    resp = _post(client, "/admin/salarie/import", {"etablissement_id": str(d["e1"]),
                                                   "fichier": (io.BytesIO(buf.getvalue()), "salaries.xlsx")},
                 content_type="multipart/form-data")
    body = _text(resp)
    assert "Ligne 3 : prénom obligatoire" in body and "Ligne 4 :" in body and "aucun salarié enregistré" in body
    db.session.remove()
    assert db.session.scalar(count) == before
    fixed = CSV_FAUX.replace("Durand;;", "Durand;Marc;").replace("douze", "12").replace("peut-être", "oui")
    resp = _post(client, "/admin/salarie/import", {"etablissement_id": str(d["e1"]),
                                                   "fichier": (io.BytesIO(fixed.encode()), "salaries.csv")},
                 content_type="multipart/form-data")
    assert "3 salarié(s) importé(s)" in _text(resp)
    db.session.remove()
    assert db.session.scalar(count) == before + 3
    # another employer's establishment: refused as a missing one
    resp = _post(client, "/admin/salarie/import", {"etablissement_id": str(d["e2"]),
                                                   "fichier": (io.BytesIO(fixed.encode()), "salaries.csv")},
                 content_type="multipart/form-data")
    assert "Établissement introuvable" in _text(resp)


def test_the_employer_sees_only_its_establishments_list_detail_export_ajax_attachments(app, db, deux_employeurs):
    d = deux_employeurs
    client = RoleClient(app, d["login1"])
    # another employer's claim, authorisation and attachment by URL: answered as missing ones
    assert client.get(f"/admin/demande_indemnisation/details/?id={d['di2']}").status_code in (302, 404)
    assert d["code2"] not in _text(client.get("/admin/demande_indemnisation/"))
    assert client.get(f"/admin/autorisation_ap/details/?id={d['a2']}").status_code in (302, 404)
    assert client.get(f"/admin/autorisation_ap/piece/{d['piece2']}").status_code == 404
    listing = _text(client.get("/admin/autorisation_ap/"))
    numero2 = db.session.get(m.AutorisationAP, d["a2"]).numero
    numero1 = db.session.get(m.AutorisationAP, d["a1"]).numero
    assert numero1 in listing and numero2 not in listing
    export = _text(client.get("/admin/autorisation_ap/export/csv/"))
    assert numero1 in export and numero2 not in export
    # the claims' list and export (a claim shows its authorisation's number), the establishments' list and page
    assert numero2 not in _text(client.get("/admin/demande_indemnisation/"))
    assert numero2 not in _text(client.get("/admin/demande_indemnisation/export/csv/"))
    etabs = _text(client.get("/admin/etablissement/"))
    assert "Menuiserie emp1" in etabs and "Menuiserie emp2" not in etabs
    assert client.get(f"/admin/etablissement/details/?id={d['e2']}").status_code in (302, 404)
    ajax = _text(client.get("/admin/ligne_di/ajax/lookup/?name=demande&query=DAP"))
    assert numero2 not in ajax
    ajax = _text(client.get("/admin/autorisation_ap/ajax/lookup/?name=etablissement&query=Menuiserie"))
    assert "emp1" in ajax and "emp2" not in ajax
    # a line on another employer's claim, by a forged POST: refused, nothing written
    resp = _post(client, "/admin/ligne_di/new/", {"demande": str(d["di2"]), "salarie": str(d["sal"][0]),
                                                  "heures_travaillees": "0", "heures_chomees": "10"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(m.LigneDI)
                             .where(m.LigneDI.demande_id == d["di2"])) == 0
    # the owner downloads its attachment
    own = RoleClient(app, "emp2")
    resp = own.get(f"/admin/autorisation_ap/piece/{d['piece2']}")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")


def test_the_UD_validates_in_bulk_on_a_filter(app, db, deux_employeurs):
    d = deux_employeurs
    s = db.session
    c2 = s.scalars(sa.select(m.Compte).where(m.Compte.login == "emp2")).one()
    s.add(m.LigneDI(demande_id=d["di2"], salarie_id=salarie(s, s.get(m.Etablissement, d["e2"]), "15.00").id,
                    heures_chomees=Decimal("35")))
    ap.recalculer_di(s, [d["di2"]], T0)
    from backoffice.workflows import Selection, run
    assert run(s, ap.DI, "envoyer", Selection.of_ids([d["di2"]]), c2, now=T0).changed == 1
    s.commit()
    ud = RoleClient(app, "ud")
    listing = _text(ud.get("/admin/demande_indemnisation/?flt0_0=envoyee"))
    assert "Valider" in listing
    resp = ud.post("/admin/demande_indemnisation/workflow/valider/filtered?flt0_0=envoyee",
                   data={"csrf_token": ud.token})
    assert resp.status_code == 302
    resp = ud.post(resp.headers["Location"], data={"csrf_token": ud.token})
    db.session.remove()
    assert db.session.get(m.DemandeIndemnisation, d["di2"]).statut == DIStatut.VALIDEE
