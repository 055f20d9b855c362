"""A form's save routed through a workflow function (issues 14 and 16): the one place that says what happens when
the workflow refuses.

A record of these programmes is created by its workflow function (the rules checked, the amounts computed, the
audit written), never by Flask-Admin's generic populate-and-add, and a filed record is not edited through the
form: the workflow refuses it, a new one is filed. The views (ESAT, service civique, NACRE, adultes-relais,
activité partielle) say which function saves and with which French messages; this mixin does the rest:

- `create_model`: `saisir(form)` then commit; a refusal (WorkflowError, or the view's `erreurs_affichees`) is
  rolled back and flashed in French, nothing written; an empty required number or date (`erreurs_de_champ`,
  TypeError by default) gets `champs_manquants` when the view has one;
- `update_model`: refused with `message_modification` when the view has one;
- `refus_du_workflow()`: in `on_model_change` / `on_model_delete`, a workflow check's refusal becomes the
  form's French validation error;
- `mot_de_passe_recent()`: a record that routes money asks for the password of less than 15 minutes first
  (issue 12).
"""

from __future__ import annotations

from contextlib import contextmanager

from flask import abort, flash, request
from wtforms.validators import ValidationError

from ..workflows.errors import WorkflowError


@contextmanager
def refus_du_workflow():
    """A workflow check's French refusal, as the form's validation error (the record is not saved)."""
    try:
        yield
    except WorkflowError as exc:
        raise ValidationError(str(exc)) from None


class SaisieWorkflowMixin:
    """Put before SecureModelView: `class XView(SaisieWorkflowMixin, SecureModelView)`."""

    message_modification: str | None = None  # a filed record is not edited: this French refusal
    champs_manquants: str | None = None  # an empty required number or date (the workflow's TypeError)
    erreurs_affichees: tuple[type[Exception], ...] = (WorkflowError,)  # their str() is a French message
    erreurs_de_champ: tuple[type[Exception], ...] = (TypeError,)

    refus_du_workflow = staticmethod(refus_du_workflow)

    def saisir(self, form):
        """Create the record through its workflow function and return it (not committed)."""
        raise NotImplementedError

    def annuler_saisie(self) -> None:
        """After a refusal: nothing of the attempt is kept (a view that audits its refusals keeps them)."""
        self.session.rollback()

    def mot_de_passe_recent(self) -> None:
        from .. import security
        stale = security.fresh_auth_redirect(next_url=request.full_path.rstrip("?"))
        if stale is not None:
            abort(stale)

    def create_model(self, form):
        try:
            model = self.saisir(form)
            self.session.commit()
        except self.erreurs_affichees as exc:
            self.annuler_saisie()
            flash(str(exc), "error")
            return False
        except self.erreurs_de_champ:
            if self.champs_manquants is None:
                raise
            self.session.rollback()
            flash(self.champs_manquants, "error")
            return False
        return model

    def update_model(self, form, model):
        if self.message_modification is None:
            return super().update_model(form, model)
        flash(self.message_modification, "error")
        return False
