"""The mail outbox over SMTP (the mail job's work, jobs.mail.send_pending_mail; the demo seed delivers its outbox with it
too): one connection per batch, retried with back-off."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage

import sqlalchemy as sa

MAX_TENTATIVES = 5
BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1)]


def render(template: str, contexte: dict) -> tuple[str, str]:
    """The French template's first line is its subject ("Objet : …"), the rest its body. A link with a
    token is built here, at send time, from the reference the outbox row holds (never the token)."""
    from flask import render_template

    from backoffice.workflows.mail import contexte_d_envoi
    text = render_template(f"mail/{template}.txt", **contexte_d_envoi(contexte))
    first, _, body = text.partition("\n")
    return first.removeprefix("Objet :").strip(), body.strip() + "\n"


def distribuer(limit: int = 1000, *, group: int = 50) -> dict:
    """Send due mails in transactions of `group`: the rows stay locked (FOR UPDATE SKIP LOCKED) until
    their outcomes are committed, so two workers never send the same mail. A worker killed inside a
    group re-sends at most that group, with the same Message-ID (derived from the event key)."""
    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.models import MailOutbox
    from backoffice.models.enums import MailStatut

    sent = failed = 0
    while sent + failed < limit:
        now = clock.now()
        rows = db.session.execute(
            sa.select(MailOutbox.id, MailOutbox.cle, MailOutbox.destinataire, MailOutbox.template, MailOutbox.contexte,
                      MailOutbox.tentatives)
            .where(MailOutbox.statut == MailStatut.EN_FILE, *_ecrits_avant(MailOutbox, now),
                   sa.or_(MailOutbox.prochain_essai_at.is_(None), MailOutbox.prochain_essai_at <= now))
            .order_by(MailOutbox.id).limit(min(group, limit - sent - failed))
            .with_for_update(skip_locked=True)).all()
        if not rows:
            db.session.rollback()
            break
        ok, ko = _deliver(rows)
        if ok:
            table = MailOutbox.__table__  # Core executemany: one statement, many rows
            db.session.execute(sa.update(table).where(table.c.id == sa.bindparam("mid")).values(
                statut=MailStatut.ENVOYE.value, envoye_at=now, sujet=sa.bindparam("sujet"),
                tentatives=table.c.tentatives + 1), [{"mid": i, "sujet": subj[:200]} for i, subj in ok])
        for mid, tentatives, error in ko:
            final = tentatives + 1 >= MAX_TENTATIVES
            db.session.execute(sa.update(MailOutbox).where(MailOutbox.id == mid).values(
                tentatives=tentatives + 1, derniere_erreur=error[:2000],
                statut=MailStatut.ECHEC if final else MailStatut.EN_FILE,
                prochain_essai_at=None if final else now + BACKOFF[min(tentatives, len(BACKOFF) - 1)]))
        db.session.commit()
        sent, failed = sent + len(ok), failed + len(ko)
    return {"envoyes": sent, "echecs": failed}


def _ecrits_avant(model, now) -> list:
    """With the thread's whole clock moved (clock.deplacee: the demo seed writing its history, where created_at and
    now() read the same moved clock), a mail written after `now` is not due yet; with the real clock (or only
    now() moved, NOW_OVERRIDE) every queued mail was written before."""
    from backoffice.models.base import HORLOGE_DEPLACEE
    return [model.created_at <= now] if HORLOGE_DEPLACEE.get() is not None else []


def _deliver(rows) -> tuple[list[tuple[int, str]], list[tuple[int, int, str]]]:
    """One SMTP connection for the group: (id, subject) delivered, (id, attempts, error) not."""
    from flask import current_app
    cfg = current_app.config
    ok, ko = [], []
    try:
        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=10)
        if cfg.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
    except (OSError, smtplib.SMTPException) as exc:
        return [], [(r.id, r.tentatives, f"serveur SMTP injoignable : {exc}") for r in rows]
    try:
        for r in rows:
            try:
                subject, body = render(r.template, r.contexte or {})
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = cfg["MAIL_DEFAULT_SENDER"], r.destinataire, subject
                msg["Message-ID"] = f"<{hashlib.sha256(r.cle.encode()).hexdigest()[:32]}@backoffice>"
                msg.set_content(body)
                smtp.send_message(msg)
                ok.append((r.id, subject))
            except (OSError, smtplib.SMTPException) as exc:
                ko.append((r.id, r.tentatives, str(exc)))
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return ok, ko
