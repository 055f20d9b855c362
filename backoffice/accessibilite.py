"""The « Accessibilité » page (issue 19 §4): public, linked from every page's footer, it states the conformance
level measured (RGAA 4.1, which follows WCAG 2.1 AA), how and when, and what is not covered.

The measure is tests/browser/test_accessibilite.py: axe-core (served from static/vendor/axe-core, version read
from the file) run in Chromium on the main pages of each role; zero serious or critical violation is required.
An automated tool checks only part of the RGAA criteria: the level stated is therefore « partiellement conforme »
until a full manual audit (RGAA 4.1 says so of any declaration without one).
"""

from __future__ import annotations

import os
import re
from datetime import date

from flask import Flask, render_template

DATE_MESURE = date(2026, 12, 2)  # when the measure below was last taken (update it with the test's pages)
PAGES_MESUREES = [
    "connexion (vide et en erreur), mot de passe oublié, cette page",
    "accueil de chaque rôle (siège, conseiller, comptable, assistance, responsable, administrateur)",
    "grilles (allocations, jeunes, lots de paiement, échéances, comptes, demandes hors délai, journal d'audit), "
    "avec et sans filtre",
    "fiche d'une allocation",
    "action de masse : simulation puis rapport d'exécution, au clavier seul",
    "formulaires de création, vides puis renvoyés en erreur",
    "boîte mail de démonstration",
]
AXE = os.path.join(os.path.dirname(__file__), "static", "vendor", "axe-core", "axe.min.js")


def version_axe() -> str:
    try:
        with open(AXE, encoding="utf-8") as fh:
            found = re.search(r"axe v(\d+\.\d+\.\d+)", fh.read(200))
    except OSError:
        return "?"
    return found.group(1) if found else "?"


def init_app(app: Flask) -> None:
    from .security import declarer_route

    @app.get("/accessibilite")
    def accessibilite():
        return render_template("accessibilite.html", date_mesure=DATE_MESURE, pages=PAGES_MESUREES,
                               version_axe=version_axe())

    declarer_route("accessibilite", "public")
