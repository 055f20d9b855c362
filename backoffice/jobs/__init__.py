"""RQ jobs: thin functions that load by id, call a workflow, commit, and let failures escape.

Queues by kind of work, so a flood of mails never delays payments.
"""

PAYMENTS, MAIL, BULK = "payments", "mail", "bulk"


def require_app_context() -> None:
    from flask import has_app_context
    if not has_app_context():
        raise RuntimeError("Les jobs s'exécutent dans `backoffice worker` (contexte d'application requis).")
