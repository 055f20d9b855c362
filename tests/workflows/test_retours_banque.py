"""Bank returns (issue 13, part 3): pain.002 / CSV status reports for an emitted batch.

On the populated database: the demo's batches and payments lie under the test's rows. pain.002 samples are
built here (lxml) from the batch's own pain.001 (its MsgId and EndToEndIds), no hand-copied file.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from lxml import etree

from backoffice.models import Allocation, AuditEvent, CompteBancaire, LotPaiement, Paiement, RetourBancaire
from backoffice.models.enums import AllocationStatut as AS, CerfaStatut, LotStatut, PaiementStatut as PS
from backoffice.rules.codes_rejet import CODES_REJET, libelle_rejet, motif_rejet
from backoffice.sepa import lire as lire_pain001
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.errors import RoleRefused
from backoffice.workflows.paiements import emettre_lot
from backoffice.workflows.retours_banque import RetourInvalide, importer
from tests import factories as f
from tests.conftest import csrf_from

pytestmark = pytest.mark.populated

NOW = datetime(2025, 5, 2, 9, 0)
LATER = datetime(2025, 5, 20, 9, 0)
NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
NEW_IBAN = f.VALID_IBANS[1]


# ---- helpers -------------------------------------------------------------------------------------------
def emitted_batch(db, ref, n=4, now=NOW):
    """n validated CEJ allocations sent to payment and their batch emitted: (lot, allocation ids)."""
    ids = []
    for k in range(n):
        b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom=f"Retour{k}", prenom="Inès")
        c.statut = CerfaStatut.VALIDE_SIEGE
        ids.append(f.make_allocation(db.session, i, c, statut=AS.VALIDEE_SIEGE, mois=date(2025, 4, 1),
                                     montant=Decimal("414.06") + k).id)
    db.session.commit()
    return send_and_emit(db, ref, ids, now), ids


def send_and_emit(db, ref, ids, now):
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids(ids), ref.comptes["siege"], now=now)
    db.session.commit()
    lot_id = db.session.execute(sa.select(Paiement.lot_id).where(
        Paiement.allocation_id.in_(ids), Paiement.statut == PS.EN_ATTENTE).limit(1)).scalar_one()
    emettre_lot(db.session, lot_id, now=now, actor=ref.comptes["comptable"])
    db.session.commit()
    return db.session.get(LotPaiement, lot_id)


def pain002(msg_id, statuses, *, grp_sts=None, montants=None, ns=NS):
    """A pain.002.001.03 for batch `msg_id`: statuses = [(end_to_end_id, TxSts, reason code or None)]."""
    def sub(parent, tag, text=None, **attrib):
        el = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrib)
        if text is not None:
            el.text = text
        return el
    doc = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    rpt = sub(doc, "CstmrPmtStsRpt")
    hdr = sub(rpt, "GrpHdr")
    sub(hdr, "MsgId", f"STS-{msg_id}"[:35])
    sub(hdr, "CreDtTm", "2025-05-16T08:00:00")
    grp = sub(rpt, "OrgnlGrpInfAndSts")
    sub(grp, "OrgnlMsgId", msg_id)
    sub(grp, "OrgnlMsgNmId", "pain.001.001.03")
    if grp_sts:
        sub(grp, "GrpSts", grp_sts)
    pmt = sub(rpt, "OrgnlPmtInfAndSts")
    sub(pmt, "OrgnlPmtInfId", f"PMT-{msg_id}"[:35])
    for n, (e2e, sts, code) in enumerate(statuses):
        tx = sub(pmt, "TxInfAndSts")
        sub(tx, "StsId", f"S{n}")
        sub(tx, "OrgnlEndToEndId", e2e)
        sub(tx, "TxSts", sts)
        if code:
            sub(sub(sub(tx, "StsRsnInf"), "Rsn"), "Cd", code)
        if montants and e2e in montants:
            sub(sub(sub(tx, "OrgnlTxRef"), "Amt"), "InstdAmt", str(montants[e2e]), Ccy="EUR")
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def transfers(lot):
    return [e2e for e2e, _ in lire_pain001(lot.fichier_sepa)]


def do_import(db, ref, content, name="retour.xml", now=LATER, **kw):
    plan = importer(db.session, content, name, actor=ref.comptes["comptable"], now=now, **kw)
    db.session.commit()
    return plan


def counts(db):
    """Rows of every table: a refused file changes none."""
    with db.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in db.metadata.sorted_tables}


def statuts(db, lot_id):
    return {p.end_to_end_id: p.statut for p in db.session.execute(
        sa.select(Paiement).where(Paiement.lot_id == lot_id)).scalars()}


# ---- the code table (pure) -------------------------------------------------------------------------------
@pytest.mark.parametrize("code,label", [
    ("AC01", "Numéro de compte incorrect"), ("AC04", "Compte clôturé"), ("AC06", "Compte bloqué"),
    ("AG01", "Opération interdite sur ce type de compte"), ("AM04", "Provision insuffisante"),
    ("MD07", "Titulaire décédé"), ("BE05", "Créancier inconnu"), ("RC01", "BIC incorrect"),
    ("MS03", "Motif non précisé"), ("FF01", "Format de fichier invalide")])
def test_iso_reason_codes_have_their_french_label(code, label):
    assert CODES_REJET[code] == label == libelle_rejet(code.lower())
    assert motif_rejet(code) == f"{code} – {label}"


def test_an_unlisted_reason_code_keeps_the_banks_code():
    assert libelle_rejet("ZZ99") == "Motif bancaire ZZ99 (non référencé)"


# ---- the money path ----------------------------------------------------------------------------------------
def test_pain002_rejecting_two_transfers_then_the_rib_change_and_the_second_payment(db, ref):
    lot, ids = emitted_batch(db, ref, n=4)
    e2e = transfers(lot)
    assert sorted(e2e) == sorted(f"ALLOC-{i}" for i in ids)
    rejected = {f"ALLOC-{ids[0]}": "AC04", f"ALLOC-{ids[1]}": "AM04"}
    # the bank rejects 2 transfers and only accepts the others (not settled yet)
    report = pain002(lot.reference, [(x, "RJCT", rejected[x]) if x in rejected else (x, "ACCP", None) for x in e2e],
                     grp_sts="PART")
    preview = importer(db.session, report, "pain002-1.xml", actor=ref.comptes["comptable"], now=LATER, dry_run=True)
    db.session.rollback()
    assert (preview.nb_rejetes, preview.nb_acceptes, preview.rapprochement) == (2, 2, False)
    assert preview.montant_rejete == Decimal("414.06") * 2 + 1
    assert {s for s in statuts(db, lot.id).values()} == {PS.EMIS}  # the dry run wrote nothing
    plan = do_import(db, ref, report, "pain002-1.xml")
    assert "2 virement(s) rejeté(s)" in plan.message()
    st = statuts(db, lot.id)
    assert {x: st[x] for x in rejected} == {x: PS.REJETE for x in rejected}
    assert {st[x] for x in e2e if x not in rejected} == {PS.EMIS}
    motifs = dict(db.session.execute(sa.select(Paiement.end_to_end_id, Paiement.motif_rejet)
                                     .where(Paiement.end_to_end_id.in_(rejected))).all())
    assert motifs == {f"ALLOC-{ids[0]}": "AC04 – Compte clôturé", f"ALLOC-{ids[1]}": "AM04 – Provision insuffisante"}
    # their allocations are back « à repayer » (validee_siege), the others wait for the bank (acceptee)
    alloc = {a.id: a.statut for a in db.session.execute(sa.select(Allocation).where(Allocation.id.in_(ids))).scalars()}
    assert alloc == {ids[0]: AS.VALIDEE_SIEGE, ids[1]: AS.VALIDEE_SIEGE, ids[2]: AS.ACCEPTEE, ids[3]: AS.ACCEPTEE}
    # the batch is not reconciled while 2 transfers still wait for the bank's settlement
    db.session.refresh(lot)
    assert lot.statut == LotStatut.EMISE and lot.rapproche_at is None
    # audited with the actor and the file's SHA-256
    events = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.entity.in_(["paiement", "allocation"]), AuditEvent.action.in_(["rejeter", "rejet_bancaire"]),
        AuditEvent.at == LATER)).scalars().all()
    assert len(events) == 4
    assert {e.actor_id for e in events} == {ref.comptes["comptable"].id}
    assert {e.params["fichier_sha256"] for e in events} == {plan.sha256}

    # a later report settles the others: executed, paid, and the batch is reconciled with its date
    settled = pain002(lot.reference, [(x, "ACSC", None) for x in e2e if x not in rejected], grp_sts="ACSC")
    plan2 = do_import(db, ref, settled, "pain002-2.xml", now=datetime(2025, 5, 21, 9, 0))
    assert plan2.rapprochement
    db.session.refresh(lot)
    assert (lot.statut, lot.rapproche_at) == (LotStatut.RAPPROCHEE, datetime(2025, 5, 21, 9, 0))
    assert {statuts(db, lot.id)[x] for x in e2e if x not in rejected} == {PS.EXECUTE}
    assert {db.session.get(Allocation, i).statut for i in ids[2:]} == {AS.VERSEE}

    # the RIB of the first youth changes; the second one's does not
    a0, a1 = db.session.get(Allocation, ids[0]), db.session.get(Allocation, ids[1])
    db.session.get(CompteBancaire, a0.cerfa.compte_bancaire_id).iban = NEW_IBAN
    db.session.commit()
    sent = run(db.session, ALLOCATION, "transmettre", Selection.of_ids([ids[0], ids[1]]), ref.comptes["siege"],
               now=datetime(2025, 6, 2, 9, 0))
    db.session.commit()
    assert sent.changed == 1
    [(reason, n)] = sent.refused.items()
    assert n == 1 and reason == ("dernier paiement rejeté par la banque sur ce RIB : faites changer le RIB avant "
                                 "de repayer")
    assert db.session.get(Allocation, ids[1]).statut == AS.VALIDEE_SIEGE
    # paid again in a new batch, to the new IBAN, under a new EndToEndId
    again = db.session.execute(sa.select(Paiement).where(Paiement.allocation_id == ids[0],
                                                         Paiement.statut != PS.REJETE)).scalar_one()
    assert again.lot_id != lot.id and again.iban == NEW_IBAN and again.montant == Decimal("414.06")
    assert again.end_to_end_id == f"ALLOC-{ids[0]}-{again.lot_id}"
    new_lot = db.session.get(LotPaiement, again.lot_id)
    emettre_lot(db.session, new_lot.id, now=datetime(2025, 6, 2, 9, 0), actor=ref.comptes["comptable"])
    db.session.commit()
    assert transfers(db.session.get(LotPaiement, new_lot.id)) == [again.end_to_end_id]
    # never twice: sending it again creates nothing, and the database refuses a second live payment
    assert db.session.get(Allocation, ids[0]).statut == AS.ACCEPTEE
    row = {c: getattr(again, c) for c in ("lot_id", "allocation_id", "beneficiaire_id", "antenne_id", "montant",
                                          "titulaire", "iban", "bic", "libelle")}
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(Paiement).values(**row, end_to_end_id="DOUBLE-1", statut=PS.EN_ATTENTE))
    db.session.rollback()


def test_the_same_file_imported_twice_changes_nothing_the_second_time(db, ref):
    lot, ids = emitted_batch(db, ref, n=3)
    e2e = transfers(lot)
    report = pain002(lot.reference, [(e2e[0], "RJCT", "MD07")] + [(x, "ACSC", None) for x in e2e[1:]])
    first = do_import(db, ref, report)
    assert first.applique and first.rapprochement
    before = counts(db)
    second = do_import(db, ref, report, now=datetime(2025, 5, 22, 9, 0))
    assert second.deja_importe is not None and not second.applique
    assert "déjà importé" in second.message() and "rien n'a changé" in second.message()
    assert counts(db) == before
    # another file saying the same is recorded, changes no payment
    same = pain002(lot.reference, [(e2e[0], "RJCT", "MD07")], grp_sts="PART")
    third = do_import(db, ref, same, "copie.xml")
    assert third.rien_a_faire and third.deja_faits == 1 and "aucun changement" in third.message()


def test_a_csv_return_with_a_bom_rejects_and_reconciles(db, ref):
    lot, ids = emitted_batch(db, ref, n=3)
    e2e = transfers(lot)
    lines = ["reference_lot;end_to_end_id;statut;code_motif", f"{lot.reference};{e2e[0]};RJCT;AC01"]
    lines += [f"{lot.reference};{x};ACSC;" for x in e2e[1:]]
    plan = do_import(db, ref, ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"), "retour.csv")
    assert (plan.format, plan.nb_rejetes, plan.nb_acceptes, plan.rapprochement) == ("csv", 1, 2, True)
    st = statuts(db, lot.id)
    assert st[e2e[0]] == PS.REJETE and {st[x] for x in e2e[1:]} == {PS.EXECUTE}
    assert db.session.execute(sa.select(Paiement.motif_rejet).where(Paiement.end_to_end_id == e2e[0])
                              ).scalar_one() == "AC01 – Numéro de compte incorrect"
    assert db.session.get(LotPaiement, lot.id).statut == LotStatut.RAPPROCHEE
    history = db.session.execute(sa.select(RetourBancaire).where(RetourBancaire.lot_id == lot.id)).scalar_one()
    assert (history.nb_rejetes, history.nb_acceptes, history.importe_par_id, history.format) == (
        1, 2, ref.comptes["comptable"].id, "csv")


def test_a_group_rejection_rejects_every_transfer_of_the_batch(db, ref):
    lot, ids = emitted_batch(db, ref, n=2)
    doc = pain002(lot.reference, [], grp_sts="RJCT")
    doc = doc.replace(b"<GrpSts>RJCT</GrpSts>", b"<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn></StsRsnInf>")
    plan = do_import(db, ref, doc)
    assert plan.nb_rejetes == 2 and plan.rapprochement
    assert set(statuts(db, lot.id).values()) == {PS.REJETE}
    assert {db.session.get(Allocation, i).statut for i in ids} == {AS.VALIDEE_SIEGE}


# ---- bad files: refused whole, nothing written ---------------------------------------------------------
def _csv(*rows):
    return ("\n".join(["reference_lot;end_to_end_id;statut;code_motif", *rows]) + "\n").encode()


BAD = {
    "not_xml": (lambda lot, other, e2e: b"\xff\xfe\x00garbage\x00\x01", "ni XML pain.002, ni CSV en UTF-8"),
    "malformed_xml": (lambda lot, other, e2e: pain002(lot.reference, [(e2e[0], "RJCT", "AC04")])[:-40],
                      "Fichier XML illisible"),
    "wrong_schema": (lambda lot, other, e2e: lot.fichier_sepa, "n'est pas un rapport de statut de paiement pain.002"),
    "unknown_batch": (lambda lot, other, e2e: pain002("LOT-INCONNU-1", [(e2e[0], "RJCT", "AC04")]),
                      "Lot « LOT-INCONNU-1 » inconnu"),
    "unknown_end_to_end": (lambda lot, other, e2e: pain002(lot.reference, [(e2e[0], "RJCT", "AC04"),
                                                                           ("ALLOC-0", "RJCT", "AC04")]),
                           "EndToEndId inconnu(s) dans le lot"),
    "batch_not_emitted": (lambda lot, other, e2e: pain002(other.reference, [(e2e[0], "RJCT", "AC04")]),
                          "n'a pas encore été émis"),
    "unknown_status": (lambda lot, other, e2e: pain002(lot.reference, [(e2e[0], "XXXX", None)]),
                       "statut TxSts « XXXX » inconnu"),
    "wrong_amount": (lambda lot, other, e2e: pain002(lot.reference, [(e2e[0], "RJCT", "AC04")],
                                                     montants={e2e[0]: "1.00"}), "dans le fichier"),
    "doctype": (lambda lot, other, e2e: b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                + pain002(lot.reference, [(e2e[0], "RJCT", "AC04")]).split(b"?>", 1)[1], "DOCTYPE"),
    "csv_column_count": (lambda lot, other, e2e: _csv(f"{lot.reference};{e2e[0]};RJCT;AC04",
                                                      f"{lot.reference};{e2e[1]};ACSC"),
                         "ligne 3 : 4 colonnes attendues"),
    "csv_mixed_batches": (lambda lot, other, e2e: _csv(f"{lot.reference};{e2e[0]};RJCT;AC04",
                                                       f"{other.reference};{e2e[1]};ACSC;"),
                          "mélange plusieurs lots"),
    "csv_without_header": (lambda lot, other, e2e: f"{lot.reference};{e2e[0]};RJCT;AC04\n".encode(),
                           "la première ligne doit être l'en-tête"),
    "conflicting_lines": (lambda lot, other, e2e: pain002(lot.reference, [(e2e[0], "RJCT", "AC04"),
                                                                          (e2e[0], "ACSC", None)]),
                          "deux fois avec des statuts différents"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_refused_whole_with_a_french_message_and_nothing_written(db, ref, case):
    lot, ids = emitted_batch(db, ref, n=2)
    # another batch, open (not emitted): another dispositif's date
    b, cb, i, c = f.make_parcours_cej(db.session, ref.nord, ref.dispositifs, nom="Ouvert", prenom="Noé")
    c.statut = CerfaStatut.VALIDE_SIEGE
    open_id = f.make_allocation(db.session, i, c, statut=AS.VALIDEE_SIEGE, mois=date(2025, 4, 1)).id
    db.session.commit()
    run(db.session, ALLOCATION, "transmettre", Selection.of_ids([open_id]), ref.comptes["siege"],
        now=datetime(2025, 5, 3, 9, 0))
    db.session.commit()
    other = db.session.execute(sa.select(LotPaiement).join(Paiement, Paiement.lot_id == LotPaiement.id)
                               .where(Paiement.allocation_id == open_id)).scalar_one()
    assert other.statut == LotStatut.PREPAREE
    build, expected = BAD[case]
    content = build(lot, other, transfers(lot))
    before = counts(db)
    with pytest.raises(RetourInvalide) as exc:
        importer(db.session, content, "mauvais", actor=ref.comptes["comptable"], now=LATER)
    db.session.rollback()
    assert expected in str(exc.value)
    assert counts(db) == before
    assert set(statuts(db, lot.id).values()) == {PS.EMIS}


def test_a_rejection_of_an_executed_transfer_refuses_the_whole_file(db, ref):
    lot, ids = emitted_batch(db, ref, n=3)
    e2e = transfers(lot)
    do_import(db, ref, pain002(lot.reference, [(e2e[0], "ACSC", None)], grp_sts="PART"))
    before = counts(db)
    with pytest.raises(RetourInvalide, match="déjà confirmé exécuté"):
        importer(db.session, pain002(lot.reference, [(e2e[1], "RJCT", "AC04"), (e2e[0], "RJCT", "AC06")]), "x",
                 actor=ref.comptes["comptable"], now=LATER)
    db.session.rollback()
    assert counts(db) == before and statuts(db, lot.id)[e2e[1]] == PS.EMIS


def test_only_a_comptable_or_an_admin_imports_a_return(db, ref):
    lot, ids = emitted_batch(db, ref, n=1)
    with pytest.raises(RoleRefused):
        importer(db.session, pain002(lot.reference, [(transfers(lot)[0], "RJCT", "AC04")]), "x",
                 actor=ref.comptes["conseiller"], now=LATER)


# ---- the import page, over HTTP ------------------------------------------------------------------------
def test_the_comptable_uploads_a_return_dry_run_then_confirms_and_sees_it_in_the_history(db, ref, login_as):
    lot, ids = emitted_batch(db, ref, n=3)
    e2e = transfers(lot)
    content = pain002(lot.reference, [(e2e[0], "RJCT", "AC06")] + [(x, "ACSC", None) for x in e2e[1:]])
    c = login_as("comptable")
    page = c.get("/admin/retour_bancaire/")
    assert page.status_code == 200 and "Retours bancaires" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    from io import BytesIO
    dry = c.post("/admin/retour_bancaire/analyser", data={"csrf_token": token,
                                                          "fichier": (BytesIO(content), "statut-banque.xml")},
                 content_type="multipart/form-data")
    html = dry.get_data(as_text=True)
    assert dry.status_code == 200 and "Simulation : rien n'est encore modifié" in html
    assert "AC06 – Compte bloqué" in html and 'id="nb-rejetes">1<' in html and 'id="nb-acceptes">2<' in html
    assert set(statuts(db, lot.id).values()) == {PS.EMIS}
    form = dict(re.findall(r'<input[^>]*name="(nom|contenu|sha256|csrf_token)"[^>]*value="([^"]*)"', html))
    done = c.post("/admin/retour_bancaire/confirmer", data=form)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Compte rendu" in html
    assert "statut-banque.xml" in html and 'id="table-historique"' in html
    db.session.expire_all()
    assert statuts(db, lot.id)[e2e[0]] == PS.REJETE
    assert db.session.get(LotPaiement, lot.id).statut == LotStatut.RAPPROCHEE
    # the same confirmation posted again (double click) changes nothing and says so
    before = counts(db)
    again = c.post("/admin/retour_bancaire/confirmer", data=form)
    assert "déjà importé" in again.get_data(as_text=True) and counts(db) == before


def test_a_bad_file_uploaded_through_the_page_is_refused_in_french(db, ref, login_as):
    lot, ids = emitted_batch(db, ref, n=1)
    c = login_as("comptable")
    token = csrf_from(c.get("/admin/retour_bancaire/").get_data(as_text=True))
    from io import BytesIO
    before = counts(db)
    resp = c.post("/admin/retour_bancaire/analyser",
                  data={"csrf_token": token, "fichier": (BytesIO(b"<Document>"), "faux.xml")},
                  content_type="multipart/form-data")
    assert resp.status_code == 422 and "refusé, rien n&#39;a été modifié" in resp.get_data(as_text=True)
    assert counts(db) == before


def test_a_tampered_confirmation_is_refused(db, ref, login_as):
    lot, ids = emitted_batch(db, ref, n=1)
    c = login_as("comptable")
    token = csrf_from(c.get("/admin/retour_bancaire/").get_data(as_text=True))
    import base64
    content = pain002(lot.reference, [(transfers(lot)[0], "RJCT", "AC04")])
    resp = c.post("/admin/retour_bancaire/confirmer", data={
        "csrf_token": token, "nom": "x.xml", "contenu": base64.b64encode(content).decode(), "sha256": "0" * 64})
    assert resp.status_code == 400 and set(statuts(db, lot.id).values()) == {PS.EMIS}


def test_a_conseiller_gets_403_on_the_import_page_and_its_posts(db, ref, login_as):
    lot, ids = emitted_batch(db, ref, n=1)
    c = login_as("conseiller")
    assert c.get("/admin/retour_bancaire/").status_code == 403
    token = csrf_from(c.get("/admin/").get_data(as_text=True))
    from io import BytesIO
    content = pain002(lot.reference, [(transfers(lot)[0], "RJCT", "AC04")])
    resp = c.post("/admin/retour_bancaire/analyser", data={"csrf_token": token, "fichier": (BytesIO(content), "r.xml")},
                  content_type="multipart/form-data")
    assert resp.status_code == 403 and set(statuts(db, lot.id).values()) == {PS.EMIS}


def test_the_import_without_csrf_token_is_refused(db, ref, login_as):
    lot, ids = emitted_batch(db, ref, n=1)
    c = login_as("comptable")
    from io import BytesIO
    content = pain002(lot.reference, [(transfers(lot)[0], "RJCT", "AC04")])
    resp = c.post("/admin/retour_bancaire/analyser", data={"fichier": (BytesIO(content), "r.xml")},
                  content_type="multipart/form-data")
    assert resp.status_code in (400, 403) and set(statuts(db, lot.id).values()) == {PS.EMIS}
