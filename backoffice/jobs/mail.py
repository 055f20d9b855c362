"""send_pending_mail: the mail outbox over SMTP, one connection per batch, retried with back-off."""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa

from . import require_app_context

MAX_TENTATIVES = 5
BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1)]


class MailNonDistribue(Exception):
    """Some mails could not be handed to the SMTP server; they stay queued for a retry."""


def render(template: str, contexte: dict) -> tuple[str, str]:
    """The French template's first line is its subject ("Objet : …"), the rest its body."""
    from flask import render_template
    text = render_template(f"mail/{template}.txt", **contexte)
    first, _, body = text.partition("\n")
    return first.removeprefix("Objet :").strip(), body.strip() + "\n"


def send_pending_mail(limit: int = 200, *, raise_on_failure: bool = True) -> dict:
    require_app_context()
    from flask import current_app

    from backoffice import clock
    from backoffice.extensions import db
    from backoffice.models import MailOutbox
    from backoffice.models.enums import MailStatut

    now = clock.now()
    rows = db.session.execute(
        sa.select(MailOutbox).where(MailOutbox.statut == MailStatut.EN_FILE,
                                    sa.or_(MailOutbox.prochain_essai_at.is_(None), MailOutbox.prochain_essai_at <= now))
        .order_by(MailOutbox.id).limit(limit).with_for_update(skip_locked=True)).scalars().all()
    sent = failed = 0
    if not rows:
        db.session.rollback()
        return {"envoyes": 0, "echecs": 0}
    cfg = current_app.config
    try:
        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=10)
        if cfg.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
    except (OSError, smtplib.SMTPException) as exc:
        smtp, error = None, f"serveur SMTP injoignable : {exc}"
    for m in rows:
        try:
            if smtp is None:
                raise smtplib.SMTPException(error)
            subject, body = render(m.template, m.contexte or {})
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = cfg["MAIL_DEFAULT_SENDER"], m.destinataire, subject
            msg["Message-ID"] = make_msgid(idstring=m.cle[:40].replace("@", "-"))
            msg.set_content(body)
            smtp.send_message(msg)
            m.statut, m.envoye_at, m.sujet = MailStatut.ENVOYE, now, subject[:200]
            m.tentatives += 1
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            m.tentatives += 1
            m.derniere_erreur = str(exc)[:2000]
            if m.tentatives >= MAX_TENTATIVES:
                m.statut = MailStatut.ECHEC
            else:
                m.prochain_essai_at = now + BACKOFF[min(m.tentatives - 1, len(BACKOFF) - 1)]
            failed += 1
        db.session.commit()  # each mail's outcome is kept even if the next one crashes the worker
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    if failed and raise_on_failure:
        raise MailNonDistribue(f"{failed} mail(s) non distribué(s) ; nouvel essai programmé")
    return {"envoyes": sent, "echecs": failed}
