"""« Boîte mail de démonstration »: the mails received by `backoffice demo`'s SMTP sink (issue 19).

A demo-only convenience: it shows every recipient's mailbox, reset and first-password links included,
which are secrets (issue 12). So the screen exists only in an app whose DEMO_MAILBOX_DIR is set, which
only `backoffice demo` does (Config never reads it from the environment): no route at all otherwise.
Admin and support (policy table), everything escaped; links shown as links for the demo's user.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import abort, current_app, make_response, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from markupsafe import Markup, escape

from .. import policy

NOM_FICHIER = re.compile(r"^(\d{19})-[0-9a-f]{8}\.eml$")  # what the sink writes: <ns>-<hex>.eml
URL = re.compile(r"https?://[^\s<>\"']+")
PARIS = ZoneInfo("Europe/Paris")
MAX_LISTE = 200


def _recu_le(name: str) -> str:
    ns = int(NOM_FICHIER.match(name).group(1))
    return datetime.fromtimestamp(ns / 1e9, PARIS).strftime("%d/%m/%Y %H:%M:%S")


def _lire(path: Path, headers_only: bool = False):
    with path.open("rb") as fh:
        return BytesParser(policy=email_policy.default).parse(fh, headersonly=headers_only)


def _texte(msg) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset: what can be read of it
        return part.get_payload(decode=True).decode("utf-8", "replace")


def avec_liens(texte: str) -> Markup:
    """The body escaped, its http(s) addresses as links (escaped too: a mail cannot inject markup)."""
    out, pos = [], 0
    for m in URL.finditer(texte):
        out.append(escape(texte[pos:m.start()]))
        out.append(Markup('<a href="{0}" rel="noreferrer">{0}</a>').format(m.group(0)))
        pos = m.end()
    out.append(escape(texte[pos:]))
    return Markup("").join(out)


class BoiteMailDemoView(BaseView):
    policy_endpoint = "boite_mail_demo"

    def _dossier(self) -> Path | None:
        dossier = current_app.config.get("DEMO_MAILBOX_DIR")
        return Path(dossier) if dossier else None

    def is_accessible(self):
        return self._dossier() is not None and policy.allows(self.policy_endpoint, "view", current_user)

    def inaccessible_callback(self, name, **kwargs):
        if self._dossier() is None:
            abort(404)
        if current_user.is_authenticated:
            abort(403)
        return redirect(url_for("auth.login", next=request.full_path))

    def _fichiers(self) -> list[Path]:
        dossier = self._dossier()
        if not dossier.is_dir():
            return []
        return sorted((p for p in dossier.iterdir() if NOM_FICHIER.match(p.name)), key=lambda p: p.name,
                      reverse=True)

    @expose("/")
    def index(self):
        fichiers = self._fichiers()
        mails = []
        for path in fichiers[:MAX_LISTE]:
            try:
                msg = _lire(path, headers_only=True)
            except OSError:
                continue
            mails.append({"id": path.name.removesuffix(".eml"), "de": str(msg.get("From", "")),
                          "a": str(msg.get("To", "")), "objet": str(msg.get("Subject", "")),
                          "date": _recu_le(path.name)})
        return _sans_cache(self.render("admin/boite_mail.html", mails=mails, total=len(fichiers),
                                       max_liste=MAX_LISTE))

    @expose("/<mail_id>")
    def message(self, mail_id: str):
        name = f"{mail_id}.eml"
        if not NOM_FICHIER.match(name):  # nothing but the sink's own names: no path leaves the folder
            abort(404)
        path = self._dossier() / name
        try:
            msg = _lire(path)
        except FileNotFoundError:
            abort(404)
        return _sans_cache(self.render("admin/boite_mail_message.html", de=str(msg.get("From", "")),
                                       a=str(msg.get("To", "")), objet=str(msg.get("Subject", "")),
                                       date=_recu_le(name), corps=avec_liens(_texte(msg))))


def _sans_cache(html: str):
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"  # the mails hold live links
    return response
