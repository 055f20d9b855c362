"""The captcha of the public pages (sign-up R63, recovery R69/R70): offline image and audio challenges drawn
by the `captcha` library (self-hosted, no third-party service), the audio one being the accessible alternative.

Nothing that gives the answer is stored (issue 12's rule for secrets): the browser gets a random key (`cle`),
the table keeps its SHA-256 (DefiCaptcha.cle_hash) and the answer is HMAC(K, cle) mapped to 6 digits, K an HMAC
of SECRET_KEY under a label of its own. Neither the table nor the page gives the answer without SECRET_KEY.
A challenge takes one answer, right or wrong (the row is marked answered in one conditional UPDATE: a replay
or two concurrent posts find nothing), within 10 minutes; a solved challenge then opens its page once, within
30 minutes (`consommer`). Digits only: the library's built-in voices are those of the digits and letters, and
digits read the same in the image and in the audio.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..models import DefiCaptcha

LONGUEUR = 6
DUREE_DEFI = timedelta(minutes=10)  # to answer
DUREE_PASSAGE = timedelta(minutes=30)  # once solved, to fill in the page it opens
USAGES = ("inscription", "recuperation", "identifiant")
_ETIQUETTE = b"backoffice/captcha/v1"


def _cle_secrete() -> bytes:
    from flask import current_app
    secret = current_app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else str(secret).encode("utf-8")
    return hmac.new(secret, _ETIQUETTE, hashlib.sha256).digest()


def _empreinte(cle: str) -> str:
    return hashlib.sha256((cle or "").encode("utf-8", "replace")).hexdigest()


def cle_valide(cle: str | None) -> bool:
    return bool(cle) and 20 <= len(cle) <= 64 and all(c.isalnum() or c in "-_" for c in cle)


def reponse(cle: str) -> str:
    """The 6 digits a challenge's image and audio show (derived, never stored)."""
    mac = hmac.new(_cle_secrete(), f"captcha:v1:{cle}".encode("ascii", "replace"), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10 ** LONGUEUR:0{LONGUEUR}d}"


def purger(session, *, now: datetime) -> int:
    """Forget the challenges whose time is over (answered or not)."""
    return session.execute(sa.delete(DefiCaptcha).where(DefiCaptcha.expires_at < now - timedelta(hours=1))).rowcount


def creer(session, usage: str, *, now: datetime) -> str:
    """A new challenge for `usage`; returns the key the page carries (hidden field, image and audio URLs)."""
    if usage not in USAGES:
        raise ValueError(usage)
    cle = secrets.token_urlsafe(24)
    purger(session, now=now)
    session.add(DefiCaptcha(cle_hash=_empreinte(cle), usage=usage, created_at=now, expires_at=now + DUREE_DEFI))
    session.flush()
    return cle


def defi_ouvert(session, cle: str | None, *, now: datetime) -> bool:
    """The challenge exists, is unanswered and not expired (its image and audio are served only then)."""
    if not cle_valide(cle):
        return False
    return session.execute(sa.select(DefiCaptcha.id).where(
        DefiCaptcha.cle_hash == _empreinte(cle), DefiCaptcha.repondu_at.is_(None),
        DefiCaptcha.expires_at > now)).first() is not None


def verifier(session, cle: str | None, saisie: str | None, usage: str, *, now: datetime) -> bool:
    """One answer to the challenge: True when it is right. Either way the challenge is spent (single use)."""
    if not cle_valide(cle):
        return False
    juste = hmac.compare_digest(reponse(cle), "".join((saisie or "").split())[:LONGUEUR * 2])
    row = session.execute(
        sa.update(DefiCaptcha).where(DefiCaptcha.cle_hash == _empreinte(cle), DefiCaptcha.usage == usage,
                                     DefiCaptcha.repondu_at.is_(None), DefiCaptcha.expires_at > now)
        .values(repondu_at=now, resolu=juste, expires_at=now + DUREE_PASSAGE)
        .returning(DefiCaptcha.id).execution_options(synchronize_session=False)).first()
    return row is not None and juste


def passage_ouvert(session, cle: str | None, usage: str, *, now: datetime) -> bool:
    """A solved challenge still opens its page (solved, unused, within 30 minutes)."""
    if not cle_valide(cle):
        return False
    return session.execute(sa.select(DefiCaptcha.id).where(
        DefiCaptcha.cle_hash == _empreinte(cle), DefiCaptcha.usage == usage, DefiCaptcha.resolu.is_(True),
        DefiCaptcha.consomme_at.is_(None), DefiCaptcha.expires_at > now)).first() is not None


def consommer(session, cle: str | None, usage: str, *, now: datetime) -> bool:
    """Use the page a solved challenge opened, once (conditional UPDATE: a replayed post finds nothing)."""
    if not cle_valide(cle):
        return False
    return session.execute(
        sa.update(DefiCaptcha).where(DefiCaptcha.cle_hash == _empreinte(cle), DefiCaptcha.usage == usage,
                                     DefiCaptcha.resolu.is_(True), DefiCaptcha.consomme_at.is_(None),
                                     DefiCaptcha.expires_at > now)
        .values(consomme_at=now).returning(DefiCaptcha.id)
        .execution_options(synchronize_session=False)).first() is not None


# ---- the media (the `captcha` library: PIL image, WAV from its built-in voices) ---------------------------

def image_png(cle: str) -> bytes:
    from captcha.image import ImageCaptcha
    return ImageCaptcha(width=220, height=80).generate(reponse(cle), format="png").getvalue()


def audio_wav(cle: str) -> bytes:
    from captcha.audio import AudioCaptcha
    return bytes(AudioCaptcha().generate(reponse(cle)))
