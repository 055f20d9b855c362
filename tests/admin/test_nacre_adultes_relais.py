"""NACRE (R51) and Adultes-relais (R52) through the screens, on the populated database (the demo's operators and
employers, made by the workflows): each partner sees only its own conventions or posts, statements, declarations,
payables and orders, another's by URL answers as a missing one; the monthly run from the grid's filters, as a dry
run then a confirmation, its payables in the programme's batch, and a replay that pays nothing."""

from __future__ import annotations

import html
import re
from datetime import datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import SourceEcheance
from tests.security.conftest import RoleClient

pytestmark = pytest.mark.populated

T0 = datetime(2025, 6, 16, 9, 0)  # the demo's « today »


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _plain(resp) -> str:
    """The page's text without its tags, spaces (and French thousands separators) collapsed."""
    page = re.sub(r"(?s)<script.*?</script>|<[^>]+>", " ", _text(resp)).replace("\u202f", " ").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", page)


def _post(client, url, data, **kw):
    return client.post(url, data={**data, "csrf_token": client.token}, **kw)


@pytest.fixture
def t0(app):
    app.config["NOW_OVERRIDE"] = T0
    yield
    app.config.pop("NOW_OVERRIDE", None)


def _id(db, model, **kw):
    return db.session.scalar(sa.select(model.id).filter_by(**kw))


def _missing(client, url) -> bool:
    """A row outside the user's scope answers as a missing one: redirected with « n'existe pas », or 404."""
    resp = client.get(url)
    if resp.status_code == 404:
        return True
    if resp.status_code != 302:
        return False
    followed = _text(client.get(resp.headers["Location"]))
    return "n'existe" in followed or "introuvable" in followed


def test_an_operator_sees_only_its_own_conventions_statements_expertise_and_payments(app, db, ref, t0):
    mine = _id(db, m.ConventionNacre, numero="NACRE-2024-0001")
    other = _id(db, m.ConventionNacre, numero="NACRE-2024-0002")
    c = RoleClient(app, "operateur-nacre")
    page = _text(c.get("/admin/convention_nacre/"))
    assert "NACRE-2024-0001" in page and "NACRE-2024-0002" not in page and "NACRE-2023-0003" not in page
    assert c.get(f"/admin/convention_nacre/details/?id={mine}").status_code == 200
    assert _missing(c, f"/admin/convention_nacre/details/?id={other}")
    # statements and expertise of the other operator's convention: absent from the lists and by URL
    other_etat = db.session.scalar(sa.select(m.EtatActiviteNacre.id).where(m.EtatActiviteNacre.convention_id == other))
    assert _missing(c, f"/admin/etat_activite_nacre/details/?id={other_etat}")
    etats = _text(c.get("/admin/etat_activite_nacre/"))
    assert etats.count("NACRE-2024-0001") >= 5 and "NACRE-2024-0002" not in etats
    # its payables: the advance and the monthly payments of its convention, never the other's
    payees = db.session.execute(sa.select(m.Echeance.id, m.Echeance.payee_id, m.Echeance.libelle).where(
        m.Echeance.source_type.in_([SourceEcheance.NACRE_AVANCE, SourceEcheance.NACRE_MENSUALITE]))).all()
    op1 = db.session.scalar(sa.select(m.ConventionNacre.operateur_id).where(m.ConventionNacre.id == mine))
    mes = [p for p in payees if p.payee_id == op1]
    autres = [p for p in payees if p.payee_id != op1]
    assert mes and autres
    paiements = _text(c.get("/admin/paiement_programme/"))
    assert all(p.libelle in paiements for p in mes) and not any(p.libelle in paiements for p in autres)
    assert _missing(c, f"/admin/paiement_programme/details/?id={autres[0].id}")
    # the staff grids stay closed to a partner
    assert c.get("/admin/echeance/").status_code == 403
    assert c.get("/admin/reversement/").status_code == 403
    # an expertise's invoice: its own downloads, another operator's is a missing one
    expertise = db.session.scalar(sa.select(m.ExpertiseNacre).where(m.ExpertiseNacre.convention_id == mine))
    assert c.get(f"/admin/expertise_nacre/piece/{expertise.id}/piece_facture").data.startswith(b"%PDF")
    other_c = RoleClient(app, "operateur-nacre2")
    assert other_c.get(f"/admin/expertise_nacre/piece/{expertise.id}/piece_facture").status_code == 404
    assert "NACRE-2024-0002" in _text(other_c.get("/admin/convention_nacre/"))
    # the third operator owes the excess advance of its ended convention; the others do not see that order
    c3 = RoleClient(app, "operateur-nacre3")
    ordre = db.session.scalar(sa.select(m.Reversement).where(m.Reversement.debiteur_type == "partenaire",
                                                             m.Reversement.montant == D("10540.00")))
    assert ordre.numero in _text(c3.get("/admin/reversement_programme/"))
    assert ordre.numero not in _text(c.get("/admin/reversement_programme/"))
    assert _missing(c, f"/admin/reversement_programme/details/?id={ordre.id}")


def test_an_operator_types_its_statement_for_its_own_convention_only_and_sends_it(app, db, ref, t0):
    mine = _id(db, m.ConventionNacre, numero="NACRE-2024-0001")
    other = _id(db, m.ConventionNacre, numero="NACRE-2024-0002")
    c = RoleClient(app, "operateur-nacre")
    form = _text(c.get("/admin/etat_activite_nacre/new/"))
    assert f'value="{mine}"' in form and f'value="{other}"' not in form
    refused = _post(c, "/admin/etat_activite_nacre/new/", {"convention": str(other), "mois": "06/2025",
                                                          "nb_phase_1": "3", "nb_phase_2": "0", "nb_phase_3": "0"})
    assert refused.status_code == 200 and not db.session.scalar(sa.select(m.EtatActiviteNacre.id).where(
        m.EtatActiviteNacre.convention_id == other, m.EtatActiviteNacre.mois == datetime(2025, 6, 1).date()))
    ok = _post(c, "/admin/etat_activite_nacre/new/", {"convention": str(mine), "mois": "06/2025", "nb_phase_1": "3",
                                                     "nb_phase_2": "2", "nb_phase_3": "1"})
    assert ok.status_code == 302, _text(ok)
    db.session.remove()
    etat = db.session.scalar(sa.select(m.EtatActiviteNacre).where(m.EtatActiviteNacre.convention_id == mine,
                                                                 m.EtatActiviteNacre.mois == datetime(2025, 6, 1).date()))
    eid, version = etat.id, etat.version
    resp = _post(c, "/admin/etat_activite_nacre/workflow/transmettre/row", {"id": str(eid), "version": str(version)})
    assert resp.status_code == 302
    db.session.remove()
    etat = db.session.get(m.EtatActiviteNacre, eid)
    # R51: 3 × 120 + 2 × 80 + 1 × 45 = 565,00 at the convention's prices
    assert (etat.statut.value, etat.montant_activite) == ("transmis", D("565.00"))


def test_an_employer_sees_only_its_own_posts_declarations_and_payments(app, db, ref, t0):
    other_post = _id(db, m.PosteAdulteRelais, numero_convention="AR-2024-0005")
    c = RoleClient(app, "employeur-ar")
    page = _text(c.get("/admin/poste_adulte_relais/"))
    assert all(f"AR-2024-000{k}" in page for k in (1, 2, 3, 4)) and "AR-2024-0005" not in page
    assert _missing(c, f"/admin/poste_adulte_relais/details/?id={other_post}")
    other_decl = db.session.scalar(sa.select(m.DeclarationAdulteRelais.id).where(
        m.DeclarationAdulteRelais.poste_id == other_post))
    assert _missing(c, f"/admin/declaration_adulte_relais/details/?id={other_decl}")
    mine = db.session.scalar(sa.select(m.Echeance).where(m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS,
                                                         m.Echeance.libelle.like("%AR-2024-0002 03/2025%")))
    theirs = db.session.scalar(sa.select(m.Echeance).where(m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS,
                                                           m.Echeance.libelle.like("%AR-2024-0005 03/2025%")))
    assert c.get(f"/admin/paiement_programme/details/?id={mine.id}").status_code == 200
    assert _missing(c, f"/admin/paiement_programme/details/?id={theirs.id}")
    assert RoleClient(app, "employeur-ar2").get(f"/admin/paiement_programme/details/?id={theirs.id}").status_code == 200
    # the order of its February absence (R52: one month at 80 %, 1 520,71) is in its own orders, not the other's
    assert "1 520,71 €" in _plain(c.get("/admin/reversement_programme/"))
    assert "1 520,71 €" not in _plain(RoleClient(app, "employeur-ar2").get("/admin/reversement_programme/"))


def test_the_monthly_run_from_the_grid_dry_run_confirmation_batch_and_replay_R52(app, db, ref, t0):
    c = RoleClient(app, "comptable")
    page = _text(c.get("/admin/poste_adulte_relais/"))
    assert "Paie mensuelle" in page
    form = _text(c.get("/admin/poste_adulte_relais/paie-mensuelle/?search=AR-2024"))
    assert "5 ligne(s) correspondent aux filtres" in form and 'value="2025-06-01"' in form
    # a month outside the list offered is refused, nothing frozen
    bad = _post(c, "/admin/poste_adulte_relais/paie-mensuelle/?search=AR-2024", {"mois": "2031-01-01"})
    assert bad.status_code == 200 and "Choisissez le mois" in _plain(bad)
    resp = _post(c, "/admin/poste_adulte_relais/paie-mensuelle/?search=AR-2024", {"mois": "2025-06-01"})
    assert resp.status_code == 302, _text(resp)
    apercu_url = resp.headers["Location"]
    apercu = _plain(c.get(apercu_url))
    # barème of 2024-01-01 (22 810,61 € a year): 1 900,88 (100 %) + 1 520,71 (80 %) + 950,44 (50 %) + 1 900,88 (the
    # other employer's post, 100 %) = 6 272,91; AR-2024-0004 is ended (its contract ended on 15/03/2025)
    assert "4 ligne(s) seront payées sur 5" in apercu
    assert "Montant à payer pour 06/2025 : 6 272,91 €" in apercu, apercu
    assert "1 refusée(s) : statut « Terminée »" in apercu  # the refusal names the state
    db.session.remove()
    juin = sa.select(sa.func.count()).select_from(m.Echeance).where(
        m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS, m.Echeance.periode == datetime(2025, 6, 1).date())
    assert db.session.scalar(juin) == 0  # the dry run paid nothing
    done = _post(c, apercu_url, {})
    assert done.status_code == 302
    result = _plain(c.get(apercu_url))
    assert "4 ligne(s) payée(s) sur 5" in result
    db.session.remove()
    rows = db.session.execute(sa.select(m.Echeance.montant, m.Echeance.statut, m.Paiement.lot_id).join(
        m.Paiement, m.Paiement.echeance_id == m.Echeance.id).where(
        m.Echeance.source_type == SourceEcheance.ADULTE_RELAIS_MOIS, m.Echeance.periode == datetime(2025, 6, 1).date())
    ).all()
    assert sum(r.montant for r in rows) == D("6272.91") and {r.statut.value for r in rows} == {"en_lot"}
    [lot_id] = {r.lot_id for r in rows}
    assert db.session.get(m.LotPaiement, lot_id).dispositif.code == "AR"
    # a replay of the same month: nothing to pay
    again = _post(c, "/admin/poste_adulte_relais/paie-mensuelle/?search=AR-2024", {"mois": "2025-06-01"})
    replay = _plain(c.get(again.headers["Location"]))
    assert "0 ligne(s) seront payées sur 5" in replay and "aide de ce mois déjà versée (R52)" in replay
    db.session.remove()
    assert db.session.scalar(juin) == 4
    # a partner cannot run it
    assert RoleClient(app, "employeur-ar").get("/admin/poste_adulte_relais/paie-mensuelle/").status_code == 403


def test_the_nacre_monthly_run_pays_the_validated_statements_of_the_month_R51(app, db, ref, t0):
    c = RoleClient(app, "comptable")
    resp = _post(c, "/admin/convention_nacre/paie-mensuelle/", {"mois": "2025-05-01"})
    apercu_url = resp.headers["Location"]
    apercu = _plain(c.get(apercu_url))
    # May: only the first convention's statement is validated (the second's waits for the agency)
    assert "1 ligne(s) seront payées sur 4" in apercu
    _post(c, apercu_url, {})
    db.session.remove()
    conv = _id(db, m.ConventionNacre, numero="NACRE-2024-0001")
    etat = db.session.scalar(sa.select(m.EtatActiviteNacre).where(m.EtatActiviteNacre.convention_id == conv,
                                                                 m.EtatActiviteNacre.mois == datetime(2025, 5, 1).date()))
    assert etat.statut.value == "verse"
    replay = _plain(c.get(_post(c, "/admin/convention_nacre/paie-mensuelle/", {"mois": "2025-05-01"}).headers["Location"]))
    assert "0 ligne(s) seront payées sur 4" in replay
