"""How a form picks a related row.

Large tables (beneficiaries, enrolments, cerfas, allocations, RIBs, accounts, reversements,
employees, establishments…) go through an ajax picker (`form_ajax_refs`): prefix search on string
columns, at most 20 rows, within the user's row scope (base.ScopedAjaxLoader). Small tables
(structures, dispositifs, exit reasons) are drop-downs whose query is scoped the same way.
"""

from __future__ import annotations

from flask_login import current_user

from .. import policy


def ajax(*fields: str, placeholder: str = "Tapez le début d'un nom ou d'un numéro…", min_length: int = 1) -> dict:
    return {"fields": list(fields), "placeholder": placeholder, "minimum_input_length": min_length,
            "page_size": 10}


def beneficiaire():
    return ajax("nom_recherche", "identifiant_imilo", placeholder="Nom prénom ou identifiant i-milo…")


def inscription():
    return ajax("numero", "beneficiaire.nom_recherche", placeholder="N° de parcours ou nom du jeune…")


def cerfa():
    return ajax("numero", placeholder="N° de cerfa…")


def allocation():
    return ajax("beneficiaire.nom_recherche", "beneficiaire.identifiant_imilo",
                placeholder="N° d'allocation ou nom du jeune…")


def compte_bancaire():
    return ajax("iban", "titulaire", "beneficiaire.nom_recherche", placeholder="IBAN, titulaire ou nom du jeune…")


def compte():
    return ajax("login", "nom", placeholder="Identifiant ou nom…")


def reversement():
    return ajax("numero", "beneficiaire.nom_recherche", placeholder="N° d'ordre ou nom du jeune…")


def etablissement():
    return ajax("siret", "raison_sociale", placeholder="SIRET ou raison sociale…")


def salarie():
    return ajax("nom", "prenom", placeholder="Nom du salarié…")


def autorisation():
    return ajax("numero", placeholder="N° d'autorisation…")


def demande_indemnisation():
    return ajax("autorisation.numero", placeholder="N° de DI ou d'autorisation…")


def declaration():
    return ajax("partenaire.nom", placeholder="N° ou nom du partenaire…")


def lieu_accueil():
    return ajax("nom", placeholder="Nom du lieu…")


def scoped(model, where=None, order_by=None):
    """query_factory for a drop-down of a small table, limited to what the user may see."""
    def factory():
        from ..extensions import db
        query = db.session.query(model)
        if where is not None:
            query = query.filter(where(model))
        clause = policy.row_scope(model, current_user)
        if clause is not None:
            query = query.filter(clause)
        return query.order_by(order_by(model) if order_by else model.id)
    return factory


def antennes():
    from ..models import Structure
    return scoped(Structure, where=lambda m: m.type == "antenne", order_by=lambda m: m.nom)


def structures(*types):
    from ..models import Structure
    return scoped(Structure, where=lambda m: m.type.in_(types), order_by=lambda m: m.nom)
