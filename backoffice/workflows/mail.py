"""Mail outbox: one row per event (unique key), sent by the mail job after the commit."""

from __future__ import annotations

import sqlalchemy as sa

from ..models import MailOutbox
from ..models.enums import MailStatut
from .outbox import enqueue_after_commit


def queue_mail(session, *, cle: str, destinataire: str, template: str, contexte: dict,
               antenne_id: int | None = None) -> None:
    """Insert the mail (nothing if `cle` already exists: one event yields one mail) and schedule the send."""
    exists = session.execute(sa.select(MailOutbox.id).where(MailOutbox.cle == cle)).first()
    if exists is not None:
        return
    session.add(MailOutbox(cle=cle, destinataire=destinataire, template=template, contexte=contexte,
                           statut=MailStatut.EN_FILE, antenne_id=antenne_id))
    session.flush()
    enqueue_after_commit(session, fonction="backoffice.jobs.mail.send_pending_mail", arguments=[],
                         file="mail", cle=f"mail-{cle}")


def contexte_d_envoi(contexte: dict | None) -> dict:
    """The template's variables at send time: a token reference becomes its link (derived again from
    SECRET_KEY, workflows.comptes.deriver_jeton); the stored context never holds the link itself."""
    from .comptes import REF_JETON, lien_de_reference

    contexte = dict(contexte or {})
    ref = contexte.pop(REF_JETON, None)
    if ref:
        contexte["lien"] = lien_de_reference(ref)
    from .activite_partielle import REF_CODE, code_de_reference
    ref_code = contexte.pop(REF_CODE, None)
    if ref_code:  # R71: the DAP's secret code, derived again (never stored, issue 12)
        contexte["code_secret"] = code_de_reference(ref_code)
    return contexte


def _effect_relancer(session, ids, ctx):
    enqueue_after_commit(session, fonction="backoffice.jobs.mail.send_pending_mail", arguments=[], file="mail",
                         cle=f"mail-renvoi-{ctx.now:%Y%m%d%H%M%S%f}")


def _mail_workflow():
    from ..models.enums import Role as R
    from .engine import T, Workflow
    return Workflow("mail", MailOutbox, [
        # en_file -> envoye | echec happen in the mail job (the system); a person only sends again
        T("renvoyer", "Renvoyer", {MailStatut.ECHEC}, MailStatut.EN_FILE, {R.ADMIN, R.SUPPORT},
          values=lambda ctx: {"tentatives": 0, "prochain_essai_at": None}, effects=[_effect_relancer]),
    ])


MAIL = _mail_workflow()
