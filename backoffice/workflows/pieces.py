"""Attachments (issue 14; the CSE opinion of a DAP, R73, reusable by the other programmes).

A file is checked before anything is written: not empty, 5 MB at most, and its content must really be one
of the accepted types (PDF, PNG, JPEG: checked on its first bytes, whatever its name or the browser says),
with a matching extension. It is stored once under `instance/pieces/<2 first hex>/<sha256>` (same content,
same file), written to a temporary name then renamed; the table keeps its name, type, size and digest.
A download goes through the scope of the role (policy.row_scope on PieceJointe).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile

from ..models import PieceJointe
from . import audit
from .errors import TransitionRefused

TAILLE_MAX = 5 * 1024 * 1024
TYPES = {  # MIME -> (magic prefixes, extensions)
    "application/pdf": ((b"%PDF-",), (".pdf",)),
    "image/png": ((b"\x89PNG\r\n\x1a\n",), (".png",)),
    "image/jpeg": ((b"\xff\xd8\xff",), (".jpg", ".jpeg")),
}
MSG_TYPE = "Type de fichier refusé : PDF, PNG ou JPEG uniquement."


def dossier_pieces() -> str:
    from flask import current_app
    return os.path.join(current_app.instance_path, "pieces")


def chemin(sha256: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise TransitionRefused("Pièce jointe introuvable.")
    return os.path.join(dossier_pieces(), sha256[:2], sha256)


def type_du_contenu(contenu: bytes, nom_fichier: str) -> str:
    nom = (nom_fichier or "").lower()
    for mime, (magics, extensions) in TYPES.items():
        if any(contenu.startswith(m) for m in magics):
            if not nom.endswith(extensions):
                raise TransitionRefused(f"L'extension du fichier ne correspond pas à son contenu ({mime}).")
            return mime
    raise TransitionRefused(MSG_TYPE)


def nom_affiche(nom_fichier: str) -> str:
    nom = os.path.basename((nom_fichier or "").replace("\\", "/")).strip()
    nom = re.sub(r"[\x00-\x1f\x7f]", "", nom)
    return (nom or "piece")[:255]


def enregistrer_piece(session, *, actor, contenu: bytes, nom_fichier: str,
                      etablissement_id: int | None) -> PieceJointe:
    """Check and store an uploaded file; the row is added to the session (not committed)."""
    if not contenu:
        raise TransitionRefused("Le fichier joint est vide.")
    if len(contenu) > TAILLE_MAX:
        raise TransitionRefused("Fichier trop volumineux : 5 Mo au plus.")
    mime = type_du_contenu(contenu, nom_fichier)
    sha = hashlib.sha256(contenu).hexdigest()
    path = chemin(sha)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(contenu)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    piece = PieceJointe(sha256=sha, nom_fichier=nom_affiche(nom_fichier), type_mime=mime, taille=len(contenu),
                        etablissement_id=etablissement_id, depose_par_id=getattr(actor, "id", None))
    session.add(piece)
    session.flush()
    audit.record(session, entity="piece_jointe", entity_id=piece.id, action="depot",
                 actor_id=getattr(actor, "id", None), params={"sha256": sha, "taille": len(contenu), "type": mime})
    return piece


def lire_piece(piece: PieceJointe) -> bytes:
    with open(chemin(piece.sha256), "rb") as fh:
        return fh.read()
