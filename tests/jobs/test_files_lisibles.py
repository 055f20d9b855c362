"""Issue 18 §6: the queue page says whether a worker is alive (RQ heartbeats: queues served, current job, last sign of
life) and names jobs and queues in French; the audit grid speaks in labels and links to the record."""

from __future__ import annotations

import re

import sqlalchemy as sa
from rq import Worker

from backoffice import models as m
from backoffice.workflows import audit


def test_without_a_worker_the_queue_page_says_nothing_is_processed(jobs_app, redis_conn, login_as):
    html = login_as("admin").get("/admin/files/").get_data(as_text=True)
    assert 'id="aucun-worker"' in html
    assert ">Paiements<" in html and ">payments<" not in html  # the queues in French


def test_a_registered_worker_shows_its_queues_state_and_heartbeat(jobs_app, redis_conn, login_as):
    w = Worker(["payments", "mail"], connection=redis_conn, name="worker-ecrans-1")
    w.register_birth()
    try:
        w.set_state("idle")
        w.heartbeat()
        html = login_as("admin").get("/admin/files/").get_data(as_text=True)
        row = re.search(r'<tr data-vivant="(oui|non)"><td>worker-ecrans-1</td>(.*?)</tr>', html, re.S)
        assert row and row[1] == "oui"
        assert "en attente de travail" in row[2] and "Paiements, Mails" in row[2] and "il y a " in row[2]
    finally:
        w.register_death()


def test_the_jobs_grid_names_jobs_in_french(db, login_as):
    db.session.add(m.JobOutbox(cle="ecrans-1", fonction="backoffice.jobs.mail.send_pending_mail", arguments=[],
                               file="mail"))
    db.session.commit()
    html = login_as("admin").get("/admin/job_outbox/").get_data(as_text=True)
    assert "Envoi des mails en file" in html and re.search(r'class="col-file">\s*Mails\s*<', html)


def test_the_audit_grid_shows_labels_and_links_to_the_record(db, ref, login_as):
    lot = m.LotPaiement(reference="LOT-AUDIT-1", dispositif_id=ref.dispositifs["CEJ"].id,
                        date_execution=sa.func.current_date(), statut="preparee")
    db.session.add(lot)
    db.session.flush()
    audit.record(db.session, entity="lot_paiement", entity_id=lot.id, action="emettre",
                 actor_id=ref.comptes["comptable"].id)
    db.session.commit()
    html = login_as("admin").get("/admin/audit_event/").get_data(as_text=True)
    assert "Émettre le fichier SEPA" in html and "Lots de paiement" in html
    assert f'href="/admin/lot_paiement/details/?id={lot.id}"' in html
