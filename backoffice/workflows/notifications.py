"""Mail effects of transitions: rows in the mail outbox, written in the transition's transaction."""

from __future__ import annotations

import sqlalchemy as sa

from ..i18n import format_montant
from ..models import Allocation, Beneficiaire, Compte, Inscription


def _queue(session, **kw):
    from .mail import queue_mail
    queue_mail(session, **kw)


def notifier_allocations_refusees(session, ids, ctx) -> None:
    rows = session.execute(
        sa.select(Allocation.id, Allocation.mois, Allocation.montant, Allocation.antenne_id, Inscription.numero,
                  Beneficiaire.nom, Beneficiaire.prenom, Beneficiaire.email, Beneficiaire.date_naissance)
        .join(Inscription, Inscription.id == Allocation.inscription_id)
        .join(Beneficiaire, Beneficiaire.id == Allocation.beneficiaire_id)
        .where(Allocation.id.in_(ids), Beneficiaire.email.is_not(None))).all()
    for r in rows:
        _queue(session, cle=f"allocation-refusee-{r.id}", destinataire=r.email, template="allocation_refusee",
               antenne_id=r.antenne_id,
               contexte={"nom": r.nom, "prenom": r.prenom, "mois": r.mois.strftime("%m/%Y"),
                         "montant": format_montant(r.montant), "numero_parcours": r.numero,
                         "motif": ctx.params.get("motif_refus", "")})


def notifier_comptes_deverrouilles(session, ids, ctx) -> None:
    rows = session.execute(sa.select(Compte.id, Compte.login, Compte.prenom, Compte.email)
                           .where(Compte.id.in_(ids))).all()
    stamp = ctx.now.strftime("%Y%m%d%H%M%S")
    for r in rows:
        _queue(session, cle=f"compte-deverrouille-{r.id}-{stamp}", destinataire=r.email,
               template="compte_deverrouille", contexte={"prenom": r.prenom, "login": r.login})
