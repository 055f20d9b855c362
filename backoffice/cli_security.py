"""`backoffice audit verify|seal`: the audit journal's hash chain (backoffice.audit_chain)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("audit")
def audit() -> None:
    """Journal d'audit : scellement et vérification de la chaîne d'empreintes."""


@audit.command("seal")
@with_appcontext
def seal() -> None:
    """Chaîne les événements pas encore scellés."""
    from .audit_chain import sceller
    from .extensions import db

    n = sceller(db.session)
    db.session.commit()
    click.echo(f"{n} événement(s) scellé(s).")


@audit.command("verify")
@click.option("--sans-scellement", is_flag=True, help="Ne scelle pas d'abord les événements récents.")
@with_appcontext
def verify(sans_scellement: bool) -> None:
    """Recalcule la chaîne ; code de sortie 1 et premier événement en cause si elle est rompue."""
    from .audit_chain import sceller, verifier
    from .extensions import db

    if not sans_scellement:
        n = sceller(db.session)
        db.session.commit()
        if n:
            click.echo(f"{n} événement(s) récent(s) scellé(s) avant vérification.")
    result = verifier(db.session)
    db.session.rollback()
    if not result.ok:
        click.echo(result.message, err=True)
        click.get_current_context().exit(1)
    click.echo(result.message)
