"""Mails per second through the outbox and the mail job to a local SMTP server (aiosmtpd).

    python -m benchmarks.mail --count 2000

Queues `count` mails in the outbox (one per event key), then times the mail job (batches of 200,
one SMTP connection per batch) until all are sent. Last line JSON: mails, seconds, per_second.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time

import sqlalchemy as sa

from benchmarks.bulk import DEFAULT_URL, make_app, reset_schema


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    from aiosmtpd.controller import Controller
    sink = Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    app = make_app(os.environ.get("DATABASE_URL", DEFAULT_URL))
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, JOBS_MODE="inline")
    from backoffice.extensions import db
    from backoffice.jobs.mail import send_pending_mail
    from backoffice.models import MailOutbox
    try:
        with app.app_context():
            reset_schema(db)
            db.session.execute(sa.insert(MailOutbox), [
                {"cle": f"bench-{k}", "destinataire": f"jeune{k}@exemple.fr", "template": "allocation_refusee",
                 "contexte": {"prenom": "Anaïs", "mois": "03/2025", "montant": "561,68 €", "numero_parcours": f"P{k}",
                              "motif": "Justificatif de ressources manquant"}, "statut": "en_file", "tentatives": 0}
                for k in range(args.count)])
            db.session.commit()
            t0 = time.perf_counter()
            sent = 0
            while sent < args.count:
                sent += send_pending_mail(limit=200)["envoyes"]
            elapsed = time.perf_counter() - t0
    finally:
        controller.stop()
    assert sink.count == args.count, (sink.count, args.count)
    print(f"{'cas':<40}{'secondes':>10}{'mails/s':>10}")
    print(f"{'outbox → job mail → SMTP (aiosmtpd)':<40}{elapsed:>10.2f}{args.count / elapsed:>10.0f}")
    print(json.dumps({"mails": args.count, "seconds": round(elapsed, 3), "per_second": round(args.count / elapsed, 1)}))


if __name__ == "__main__":
    main()
