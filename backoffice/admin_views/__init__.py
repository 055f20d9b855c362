"""register(admin): every view in menu order; called only from app.py (nothing else imports this)."""

from __future__ import annotations


def create_admin(app):
    from flask_admin import Admin
    from flask_admin.theme import Bootstrap4Theme

    from .dashboard import DashboardView

    admin = Admin(
        app,
        name="Back-office",
        theme=Bootstrap4Theme(base_template="admin/bo_master.html", fluid=True),
        index_view=DashboardView(name="Accueil", url="/admin", endpoint="admin"),
    )
    register(admin)
    from .activite_partielle import LienSuiviAP
    admin.add_link(LienSuiviAP(name="Tableau de suivi", endpoint="demande_indemnisation.suivi",
                               category="Activité partielle"))
    from . import menu
    menu.install(app)
    from .files import FilesView
    admin.add_view(FilesView(name="Files d'attente", category="Suivi", endpoint="files", url="/admin/files"))
    from .retours import RetourBancaireView
    admin.add_view(RetourBancaireView(name="Retours bancaires", category="Paiements", endpoint="retour_bancaire",
                                      url="/admin/retour_bancaire"))
    from .pilotage import PilotageView  # issue 16 §5
    admin.add_view(PilotageView(name="Pilotage", endpoint="pilotage", url="/admin/pilotage"))
    if app.config.get("DEMO_MAILBOX_DIR"):  # set by `backoffice demo` only (its mail sink, issue 19)
        from .boite_mail import BoiteMailDemoView
        admin.add_view(BoiteMailDemoView(name="Boîte mail de démonstration", category="Suivi",
                                         endpoint="boite_mail_demo", url="/admin/boite-mail"))
    return admin


def register(admin) -> None:
    from ..extensions import db
    from . import views
    from .workflow_view import with_workflow

    for cls, model, endpoint, name, category in views.GRIDS:
        admin.add_view(with_workflow(cls, endpoint)(model, db.session, endpoint=endpoint, name=name,
                                                    category=category))
