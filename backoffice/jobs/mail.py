"""send_pending_mail: the mail job (workflows.distribution_mail does the delivery: SMTP, retries, back-off)."""

from __future__ import annotations

from backoffice.workflows.distribution_mail import BACKOFF, MAX_TENTATIVES, distribuer, render  # noqa: F401

from . import require_app_context


class MailNonDistribue(Exception):
    """Some mails could not be handed to the SMTP server; they stay queued for a retry."""

    attendu = True  # an expected failure: the worker logs its message in one line, no traceback (issue 19)


def send_pending_mail(limit: int = 1000, *, raise_on_failure: bool = True, group: int = 50) -> dict:
    """Send due mails in transactions of `group` (workflows.distribution_mail.distribuer); an expected failure
    (MailNonDistribue) when some could not be delivered and `raise_on_failure`."""
    require_app_context()
    result = distribuer(limit, group=group)
    if result["echecs"] and raise_on_failure:
        raise MailNonDistribue(f"{result['echecs']} mail(s) non distribué(s) ; nouvel essai programmé")
    return result
