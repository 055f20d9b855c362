"""Font Awesome 4.7 cut down to the icons the back-office shows (issue 19 §5: 77 KiB of woff2 → a few KiB).

    pip install fonttools brotli   # build-time only, not a dependency of the application
    python scripts/icones_fontawesome.py

Scans Flask-Admin's bootstrap4 templates and JS and ours (templates, admin_views, static) for `fa-<name>`, adds
EXTRA (icons a view may name at run time: menu icons, buttons), and writes backoffice/static/fa/font-awesome.css
(Flask-Admin's font-awesome.min.css with only those icon rules and one woff2 source) and fontawesome-subset.woff2.
tests/admin/test_static_cache.py fails when a template uses an icon missing from the subset: rerun this script.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import flask_admin

RACINE = Path(__file__).resolve().parents[1]
FA = Path(flask_admin.__file__).parent
SORTIE = RACINE / "backoffice" / "static" / "fa"
EXTRA = {"plus", "plus-circle", "search", "filter", "download", "upload", "sort", "sort-asc", "sort-desc",
         "calendar", "times-circle", "home", "sign-out", "sign-in", "lock", "unlock", "cog", "refresh", "envelope",
         "exclamation-triangle", "exclamation-circle", "info-circle", "ban", "clock-o", "list", "file", "file-o",
         "caret-down", "caret-up", "caret-right", "angle-left", "angle-right", "angle-double-left",
         "angle-double-right", "floppy-o", "undo", "external-link", "eye-slash", "check-square-o", "square-o",
         "euro", "eur", "bank", "university", "users", "user-circle", "bars", "spinner", "history", "print"}
ICONE = re.compile(r"\bfa-([a-z0-9-]+)")


def icones_utilisees() -> set[str]:
    sources = [FA / "templates" / "bootstrap4", FA / "static" / "admin" / "js", FA / "model", FA / "contrib",
               RACINE / "backoffice" / "templates", RACINE / "backoffice" / "admin_views"]
    noms = set()
    for dossier in sources:
        for f in dossier.rglob("*"):
            if f.suffix in (".html", ".js", ".py") and f.is_file():
                noms |= set(ICONE.findall(f.read_text(encoding="utf-8", errors="ignore")))
    return noms | EXTRA


def main() -> None:
    from fontTools import subset

    css = (FA / "static" / "bootstrap" / "bootstrap4" / "css" / "font-awesome.min.css").read_text()
    voulues = icones_utilisees()
    regles, points = [], set()

    def garder(m):
        selecteurs = [s for s in m.group(1).split(",") if s[4:-7] in voulues]  # ".fa-NAME:before"
        if not selecteurs:
            return ""
        points.add(int(m.group(2), 16))
        regles.append(m.group(0))
        return ",".join(selecteurs) + '{content:"\\' + m.group(2) + '"}'

    css = re.sub(r"((?:\.fa-[a-z0-9-]+:before,?)+)\{content:\"\\(f[0-9a-f]{3})\"\}", garder, css)
    css = re.sub(r"@font-face\{[^}]*\}", "@font-face{font-family:'FontAwesome';src:url('fontawesome-subset.woff2') "
                 "format('woff2');font-weight:normal;font-style:normal;font-display:block}", css, count=1)
    SORTIE.mkdir(parents=True, exist_ok=True)
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = []
    font = subset.load_font(str(FA / "static" / "bootstrap" / "bootstrap4" / "fonts" / "fontawesome-webfont.ttf"),
                            options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(points))
    sub.subset(font)
    police = SORTIE / "fontawesome-subset.woff2"
    subset.save_font(font, str(police), options)
    # the font's URL carries its hash too, so the browser keeps it a year without asking (statique.py)
    version = hashlib.sha256(police.read_bytes()).hexdigest()[:12]
    css = css.replace("url('fontawesome-subset.woff2')", f"url('fontawesome-subset.woff2?v={version}')")
    (SORTIE / "font-awesome.css").write_text(css)
    print(f"{len(points)} icônes, {(SORTIE / 'fontawesome-subset.woff2').stat().st_size} octets de police, "
          f"{len(css)} octets de CSS")


if __name__ == "__main__":
    main()
