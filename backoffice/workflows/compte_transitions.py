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


MSG_HIERARCHIE = "seul un administrateur agit sur le compte d'un administrateur"
PAS_SOI_MEME = Guard("SEC", "action impossible sur votre propre compte", _pas_soi_meme)


def _sous_l_acteur(ctx):
    """Issue 12, finding 9: an admin acts on every account; anyone else (the support desk) only on the
    accounts below admin: an admin's account is never unlocked, deactivated, reactivated nor forced to
    change its password by the desk (an admin asked a reset of their own: the desk cannot finish it)."""
    if ctx.role == R.ADMIN:
        return sa.true()
    return Compte.role != R.ADMIN


HIERARCHIE = Guard("SEC", MSG_HIERARCHIE, _sous_l_acteur)
PAS_DEJA_EXIGE = Guard("R66", "changement de mot de passe déjà exigé",
                       lambda ctx: Compte.must_change_password.is_(False))

COMPTE = Workflow("compte", Compte, [
    T("deverrouiller", "Déverrouiller", {S.VERROUILLE}, S.ACTIF, {R.SUPPORT, R.ADMIN}, guards=[HIERARCHIE],
      values=lambda ctx: {"failed_attempts": 0, "failures_since_unlock_total": 0, "locked_at": None,
                          "locked_until": None},
      effects=[_effect_mail], style="success"),
    T("desactiver", "Désactiver", {S.ACTIF, S.VERROUILLE}, S.DESACTIVE, {R.SUPPORT, R.ADMIN},
      guards=[PAS_SOI_MEME, HIERARCHIE], values=lambda ctx: {"session_generation": Compte.session_generation + 1},
      style="danger"),
    T("reactiver", "Réactiver", {S.DESACTIVE}, S.ACTIF, {R.SUPPORT, R.ADMIN}, guards=[HIERARCHIE],
      values=lambda ctx: {"failed_attempts": 0}),
    T("forcer_changement", "Exiger un nouveau mot de passe", {S.ACTIF}, S.ACTIF, {R.SUPPORT, R.ADMIN},
      guards=[PAS_SOI_MEME, HIERARCHIE, PAS_DEJA_EXIGE],
      values=lambda ctx: {"must_change_password": True, "session_generation": Compte.session_generation + 1},
      style="secondary"),
])
