"""« Retours bancaires »: the comptable imports a bank's payment status report (pain.002 or CSV) for an
emitted batch: a dry run shows what the file would do, the confirmation applies it (workflows/retours_banque.py),
then the report; the imported files' history below the form. Roles: comptable and admin (policy)."""

from __future__ import annotations

import base64
import binascii
import hashlib

import sqlalchemy as sa
from flask import flash
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import DataRequired

from .. import clock
from .. import models as m
from ..extensions import db
from ..i18n import format_montant
from ..workflows.errors import WorkflowError
from ..workflows.retours_banque import TAILLE_MAX, importer
from .page import PolicyPageView


class ImportRetourForm(FlaskForm):
    fichier = FileField("Fichier de retour (pain.002 XML ou CSV)",
                        validators=[FileRequired("Choisissez le fichier de retour de la banque.")])


class ConfirmerRetourForm(FlaskForm):
    nom = HiddenField(validators=[DataRequired()])
    contenu = HiddenField(validators=[DataRequired()])  # the previewed file, base64: re-validated whole
    sha256 = HiddenField(validators=[DataRequired()])


class RetourBancaireView(PolicyPageView):
    policy_endpoint = "retour_bancaire"

    def _page(self, form, **kw):
        historique = db.session.execute(
            sa.select(m.RetourBancaire).options(sa.orm.joinedload(m.RetourBancaire.lot),
                                                sa.orm.joinedload(m.RetourBancaire.importe_par))
            .order_by(m.RetourBancaire.id.desc()).limit(50)).scalars().all()
        return self.render("admin/retours_bancaires.html", form=form, historique=historique,
                           format_montant=format_montant, **kw)

    @expose("/")
    def index(self):
        return self._page(ImportRetourForm())

    @expose("/analyser", methods=["POST"])
    def analyser(self):
        form = ImportRetourForm()
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for e in errors:
                    flash(e if isinstance(e, str) else "Formulaire invalide : rechargez la page.", "error")
            return self._page(form), 400
        upload = form.fichier.data
        contenu = upload.read(TAILLE_MAX + 1)
        nom = (upload.filename or "retour")[:255]
        try:
            plan = importer(db.session, contenu, nom, actor=current_user, now=clock.now(), dry_run=True)
        except WorkflowError as exc:
            db.session.rollback()
            flash(f"Fichier « {nom} » refusé, rien n'a été modifié : {exc}", "error")
            return self._page(ImportRetourForm()), 422
        db.session.rollback()
        confirm = ConfirmerRetourForm(formdata=None, nom=nom, sha256=plan.sha256,
                                      contenu=base64.b64encode(contenu).decode("ascii"))
        return self._page(ImportRetourForm(formdata=None), plan=plan, confirm=confirm, simulation=True)

    @expose("/confirmer", methods=["POST"])
    def confirmer(self):
        form = ConfirmerRetourForm()
        if not form.validate_on_submit():
            flash("Confirmation invalide : importez le fichier à nouveau.", "error")
            return self._page(ImportRetourForm()), 400
        try:
            contenu = base64.b64decode(form.contenu.data, validate=True)
        except (binascii.Error, ValueError):
            contenu = None
        if contenu is None or hashlib.sha256(contenu).hexdigest() != form.sha256.data:
            flash("Le fichier confirmé n'est pas celui de la simulation : importez-le à nouveau.", "error")
            return self._page(ImportRetourForm()), 400
        try:
            plan = importer(db.session, contenu, form.nom.data, actor=current_user, now=clock.now())
            db.session.commit()
        except WorkflowError as exc:
            db.session.rollback()
            flash(f"Fichier « {form.nom.data} » refusé, rien n'a été modifié : {exc}", "error")
            return self._page(ImportRetourForm()), 422
        flash(plan.message(), "info" if plan.deja_importe is not None else "success")
        return self._page(ImportRetourForm(formdata=None), plan=plan, simulation=False)
