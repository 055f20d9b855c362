"""Back-office d'une agence de paiement : grilles, workflows, paiements SEPA."""

from .app import create_app

__all__ = ["create_app"]
