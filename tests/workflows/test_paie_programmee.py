"""The scheduler's monthly preparation (issue 13, issue 16) on the populated database, the clock moved with
app.config['NOW_OVERRIDE']: each programme's monthly run (NACRE R51, Adultes-relais R52) is prepared on its
calendar date as a dry run awaiting a human's confirmation — nothing is paid until a payment officer confirms it on
its page —, audited, and prepared once however many ticks run."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.jobs.paie_programmes import preparer_paies_mensuelles
from backoffice.models.enums import BulkRunStatut, EcheanceStatut, SourceEcheance
from backoffice.workflows.echeances import dispositif_programme
from tests.conftest import csrf_from
from tests.workflows.test_nacre import convention, etat, operateur, signer

pytestmark = pytest.mark.populated


def _runs(s, workflow):
    return s.scalars(sa.select(m.BulkRun).where(m.BulkRun.workflow == workflow,
                                                m.BulkRun.description.like("Paie mensuelle programmée%"))
                     .order_by(m.BulkRun.id)).all()


def test_monthly_runs_are_prepared_on_their_calendar_date_once_and_paid_only_when_confirmed(app, db, ref, login_as):
    s = db.session
    op, c_op = operateur(s, "OPS")
    conv = convention(s, op, "NACRE-S-0001", subvention="40000.00")
    assert signer(s, ref, conv, now=datetime(2025, 5, 2, 9)).changed == 1  # advance 10 000,00
    etat(s, ref, conv, c_op, date(2025, 5, 1), 100, 0, 0, now=datetime(2025, 5, 28, 9))  # 12 000 → 2 000,00
    # the Adultes-relais calendar is data: its payments (so its preparation) on the 5th of the month
    ar = dispositif_programme(s, "AR")
    s.execute(sa.update(m.CalendrierPaiement).where(m.CalendrierPaiement.dispositif_id == ar.id).values(jours="5"))
    s.commit()

    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 3, 6, 0)
    prepared = preparer_paies_mensuelles()
    [nacre] = _runs(s, "convention_nacre")
    assert prepared == [nacre.id] and not _runs(s, "poste_adulte_relais")  # the 5th not reached for AR
    assert (nacre.statut, nacre.transition, nacre.params["mois_paye"]) == (BulkRunStatut.APERCU, "payer_mois",
                                                                          "2025-05-01")
    assert conv.id in nacre.ids and nacre.total == len(nacre.ids)
    # a dry run only: nothing is paid, the statement still waits
    assert not s.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == SourceEcheance.NACRE_MENSUALITE,
                                                     m.Echeance.source_id == conv.id)).all()
    [event] = s.scalars(sa.select(m.AuditEvent).where(m.AuditEvent.entity == "bulk_run",
                                                      m.AuditEvent.entity_id == nacre.id)).all()
    assert event.action == "preparer_paie_mensuelle" and event.params["programme"] == "NACRE"
    assert event.params["a_payer"] >= 1

    # idempotent: a second tick, later ticks in the month prepare nothing more; the 5th prepares AR once
    assert preparer_paies_mensuelles() == []
    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 5, 6, 0)
    [poste_run] = preparer_paies_mensuelles() and _runs(s, "poste_adulte_relais")
    assert poste_run.params["mois_paye"] == "2025-05-01"
    app.config["NOW_OVERRIDE"] = datetime(2025, 6, 20, 6, 0)
    assert preparer_paies_mensuelles() == []
    assert len(_runs(s, "convention_nacre")) == 1 and len(_runs(s, "poste_adulte_relais")) == 1

    # a payment officer opens the prepared dry run and confirms it: only then the month is paid
    comptable = ref.comptes["comptable"]
    c = login_as(comptable.login)
    page = c.get(f"/admin/convention_nacre/paie-mensuelle/{nacre.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "rien n'est encore payé" in html.replace("&#39;", "'")
    assert 'id="bouton-confirmer"' in html
    resp = c.post(f"/admin/convention_nacre/paie-mensuelle/{nacre.id}",
                  data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 302
    s.expire_all()
    done = s.get(m.BulkRun, nacre.id)
    assert (done.statut, done.actor_id) == (BulkRunStatut.TERMINE, comptable.id)
    [e] = s.scalars(sa.select(m.Echeance).where(m.Echeance.source_type == SourceEcheance.NACRE_MENSUALITE,
                                                m.Echeance.source_id == conv.id)).all()
    assert (e.periode, str(e.montant), e.statut) == (date(2025, 5, 1), "2000.00", EcheanceStatut.EN_LOT)
    # the next tick of June prepares nothing again (the month's preparation exists, confirmed)
    assert preparer_paies_mensuelles() == []
