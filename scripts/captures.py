"""The README's screenshots (docs/captures/*.png): the first screens of each role, taken in headless Chromium.

    python scripts/captures.py                     # its own demo (SQLite in a temporary folder, ≈ 1 min to seed)
    python scripts/captures.py --base-url http://127.0.0.1:5000   # a running `backoffice demo`

Needs the test extras (Playwright) and Chromium (/usr/bin/chromium, `apt-get install chromium`). Each PNG is
1200×750, reduced to a 64-colour palette when Pillow is installed, and must stay under 150 KiB (the script says
which one does not).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
from pathlib import Path

RACINE = Path(__file__).resolve().parents[1]
MOT_DE_PASSE = "Demo-2026!"
TAILLE_MAX = 150 * 1024
CHROMIUM = "/usr/bin/chromium"

# (file, role or None for anonymous, what to do): the tour of the README, in its order
CAPTURES = [
    ("connexion.png", None, "/login"),
    ("siege-accueil.png", "siege", "/admin/"),
    ("siege-allocations-soumises.png", "siege", "GRILLE_SOUMISES"),
    ("siege-simulation.png", "siege", "SIMULATION"),
    ("conseiller-jeunes.png", "conseiller", "/admin/beneficiaire/"),
    ("comptable-lots.png", "comptable", "/admin/lot_paiement/"),
    ("support-comptes.png", "support", "/admin/compte/"),
    ("manager-hors-delai.png", "manager", "/admin/demande_hors_delai/"),
]


def _serveur_demo():
    """A demo of our own: a fresh SQLite seeded through the workflows, served by werkzeug in a thread."""
    dossier = tempfile.mkdtemp(prefix="captures-")
    os.environ["DATABASE_URL"] = f"sqlite:///{dossier}/demo.sqlite3"
    os.environ["JOBS_MODE"] = "inline"
    sys.path.insert(0, str(RACINE))
    from werkzeug.serving import make_server

    from backoffice import create_app
    from backoffice.cli import _upgrade_database
    from backoffice.extensions import db
    from seeds import load_demo
    app = create_app()
    with app.app_context():
        _upgrade_database()
        print("Chargement des données de démonstration…", flush=True)
        load_demo(db.session, seed=2026)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _png(image: bytes) -> bytes:
    try:
        from PIL import Image
    except ImportError:
        return image
    out = io.BytesIO()
    Image.open(io.BytesIO(image)).convert("RGB").quantize(colors=64).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _connexion(page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", MOT_DE_PASSE)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/**")


def _url_soumises() -> str:
    """The allocation grid filtered on « Soumise », as the filter UI builds it."""
    sys.path.insert(0, str(RACINE))
    from backoffice import create_app
    app = create_app()
    with app.test_request_context():
        view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == "allocation")
        return view.filtered_url("statut", "soumise")


def capturer(base: str, sortie: Path) -> list[str]:
    from playwright.sync_api import sync_playwright
    soumises = _url_soumises()
    sortie.mkdir(parents=True, exist_ok=True)
    trop_lourdes = []
    with sync_playwright() as p:
        navigateur = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        for nom, role, quoi in CAPTURES:
            contexte = navigateur.new_context(locale="fr-FR", viewport={"width": 1200, "height": 750})
            page = contexte.new_page()
            page.set_default_timeout(30000)
            if role:
                _connexion(page, base, role)
            if quoi == "GRILLE_SOUMISES":  # the grid filtered on « Soumise », its bulk menu open
                page.goto(f"{base}{soumises}")
                page.click("#menu-toutes-lignes > a")
            elif quoi == "SIMULATION":  # the dry run of « valider » on all of them (nothing confirmed)
                page.goto(f"{base}{soumises}")
                page.click("#menu-toutes-lignes > a")
                page.click("#menu-toutes-lignes button[data-transition=valider]")
                page.wait_for_selector("#apercu")
            else:
                page.goto(f"{base}{quoi}")
            image = _png(page.screenshot(full_page=False))
            (sortie / nom).write_bytes(image)
            print(f"{nom} : {len(image) // 1024} Kio", flush=True)
            if len(image) > TAILLE_MAX:
                trop_lourdes.append(nom)
            contexte.close()
        navigateur.close()
    return trop_lourdes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="une démo déjà lancée (sinon le script lance la sienne)")
    parser.add_argument("--out", default=str(RACINE / "docs" / "captures"))
    args = parser.parse_args()
    server = None
    base = args.base_url.rstrip("/") if args.base_url else None
    if base is None:
        base, server = _serveur_demo()
    try:
        trop = capturer(base, Path(args.out))
    finally:
        if server is not None:
            server.shutdown()
    if trop:
        print("Au-delà de 150 Kio : " + ", ".join(trop), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
