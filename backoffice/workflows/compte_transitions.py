"""Account transitions for the support desk and admins: unlock, deactivate, reactivate, force a change.

(The lockout itself happens at login, in workflows/comptes.py, R68.)
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import Compte
from ..models.enums import CompteStatut as S, Role as R
from .engine import Guard, T, Workflow


def _effect_mail(session, ids, ctx):
    from .notifications import notifier_comptes_deverrouilles
    notifier_comptes_deverrouilles(session, ids, ctx)


def _pas_soi_meme(ctx):
    return Compte.id != sa.literal(ctx.actor_id)


PAS_SOI_MEME = Guard("SEC", "action impossible sur votre propre compte", _pas_soi_meme)
PAS_DEJA_EXIGE = Guard("R66", "changement de mot de passe déjà exigé",
                       lambda ctx: Compte.must_change_password.is_(False))

COMPTE = Workflow("compte", Compte, [
    T("deverrouiller", "Déverrouiller", {S.VERROUILLE}, S.ACTIF, {R.SUPPORT, R.ADMIN},
      values=lambda ctx: {"failed_attempts": 0, "failures_since_unlock_total": 0, "locked_at": None,
                          "locked_until": None},
      effects=[_effect_mail], style="success"),
    T("desactiver", "Désactiver", {S.ACTIF, S.VERROUILLE}, S.DESACTIVE, {R.SUPPORT, R.ADMIN},
      guards=[PAS_SOI_MEME], values=lambda ctx: {"session_generation": Compte.session_generation + 1},
      style="danger"),
    T("reactiver", "Réactiver", {S.DESACTIVE}, S.ACTIF, {R.SUPPORT, R.ADMIN},
      values=lambda ctx: {"failed_attempts": 0}),
    T("forcer_changement", "Exiger un nouveau mot de passe", {S.ACTIF}, S.ACTIF, {R.SUPPORT, R.ADMIN},
      guards=[PAS_SOI_MEME, PAS_DEJA_EXIGE],
      values=lambda ctx: {"must_change_password": True, "session_generation": Compte.session_generation + 1},
      style="secondary"),
])
