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
    from .extensions import db

    n = _sceller_ou_sortir(db)
    click.echo(f"{n} événement(s) scellé(s).")


@audit.command("verify")
@click.option("--sans-scellement", is_flag=True, help="Ne scelle pas d'abord les événements récents.")
@with_appcontext
def verify(sans_scellement: bool) -> None:
    """Recalcule la chaîne ; code de sortie 1 et premier événement en cause si elle est rompue."""
    from .audit_chain import verifier
    from .extensions import db

    if not sans_scellement:
        n = _sceller_ou_sortir(db)
        if n:
            click.echo(f"{n} événement(s) récent(s) scellé(s) avant vérification.")
    result = verifier(db.session)
    db.session.rollback()
    if not result.ok:
        click.echo(result.message, err=True)
        click.get_current_context().exit(1)
    click.echo(result.message)


@audit.command("recaler")
@with_appcontext
def recaler_cmd() -> None:
    """Après une restauration par pg_dump dans un autre serveur : reprend la numérotation des transactions
    au-dessus des plages scellées (application et workers arrêtés ; propriétaire de la base)."""
    from .audit_chain import recaler
    from .extensions import db

    offset = recaler(db.session)
    db.session.commit()
    if offset is None:
        click.echo("Rien à recaler : le compteur de transactions est au-dessus des plages scellées.")
    else:
        click.echo(f"Numérotation décalée de {offset} : redémarrez l'application et les workers, puis lancez "
                   "`backoffice audit verify`.")


def _sceller_ou_sortir(db) -> int:
    """Seal and commit; a transaction counter gone back (a restored dump) is said in French, exit code 1."""
    from .audit_chain import CompteurEnArriere, sceller
    try:
        n = sceller(db.session)
    except CompteurEnArriere as exc:
        db.session.rollback()
        click.echo(str(exc), err=True)
        click.get_current_context().exit(1)
    db.session.commit()
    return n
