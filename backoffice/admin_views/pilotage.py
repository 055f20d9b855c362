"""« Pilotage » (issue 16, part 5): per programme and month, money paid, recovered and still due, and the
beneficiaries paid, nationally, for a région or a département; a chart, and the same figures as CSV or XLSX.

The view parses the filters (rules.pilotage), asks workflows.pilotage for the figures and renders them; the
export writes the very tables the screen shows (workflows.pilotage.tableaux). Who sees it: policy « pilotage »
(national staff roles; never a partner, a conseiller or a territorial agent).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Response, abort, request, url_for
from flask_admin import expose
from flask_login import current_user

from .. import models as m, policy
from ..extensions import db
from ..i18n import format_montant, format_nombre
from ..models.enums import PaiementStatut as PS
from ..rules.pilotage import NIVEAUX, FiltreInvalide, mois_suivant, parse_filtres
from ..workflows import pilotage as wf
from .base import CSV_DELIMITER, _Echo
from .filters import filter_args
from .formatters import csv_cell, neutraliser_formule
from .page import PolicyPageView


def _defaut_fin(session) -> date:
    """The month of the latest payment batch (a demo's data lies in its past), else this month."""
    latest = session.execute(sa.select(sa.func.max(m.LotPaiement.date_execution)).select_from(m.Paiement)
                             .join(m.LotPaiement, m.LotPaiement.id == m.Paiement.lot_id)
                             .where(m.Paiement.statut.in_((PS.EMIS, PS.EXECUTE)))).scalar()
    return (latest or date.today()).replace(day=1)


def _intitule(r: wf.Restitution) -> str:
    f = r.filtres
    programme = f"programme {f.programme}" if f.programme else "tous programmes"
    return f"Pilotage — {r.libelle_niveau} — {f.debut:%m/%Y} à {f.fin:%m/%Y} — {programme}"


class PilotageView(PolicyPageView):
    policy_endpoint = "pilotage"

    # ---- figures --------------------------------------------------------------------------------

    def _restitution(self):
        """(Restitution, None) or (None, French message) for the request's filters."""
        ref = wf.referentiel(db.session)
        args = _args(request.args)
        try:
            filtres = parse_filtres(args, departements={c: r for c, (_n, r) in ref.departements.items()},
                                    regions=set(ref.regions), programmes=set(ref.programmes),
                                    defaut_fin=_defaut_fin(db.session))
        except FiltreInvalide as e:
            return None, ref, str(e)
        return wf.restitution(db.session, filtres, ref), ref, None

    def _grid(self, endpoint):
        if not policy.allows(endpoint, "view", current_user):
            return None
        return next((v for v in self.admin._views if getattr(v, "endpoint", None) == endpoint), None)

    def _liens(self, r: wf.Restitution):
        """For a line: {measure: url of the grid filtered on its programme (and month)} where a grid exists.
        The grids filter on programme and dates, not on territory: the screen says so."""
        lots, ordres = self._grid("lot_paiement"), self._grid("reversement")
        out = {}
        for t in wf.tableaux(r):
            if t.cle != "programmes":
                continue
            for ligne in t.lignes:
                if ligne.programme is None:
                    continue
                pid = r.ref.ids.get(ligne.programme)
                liens = {}
                if ligne.mois:
                    debut = date.fromisoformat(ligne.mois + "-01")
                else:
                    debut = r.filtres.debut
                fin = (mois_suivant(debut) if ligne.mois else r.filtres.fin_exclue) - timedelta(days=1)
                if lots is not None:
                    args = {}
                    for n, (col, val, *op) in enumerate((("dispositif_id", pid),
                                                         ("date_execution", f"{debut} to {fin}",
                                                          _between()))):
                        found = filter_args(lots, col, val, *op)
                        args.update({k.replace("flt0_", f"flt{n}_", 1): v for k, v in found.items()})
                    liens["verse"] = url_for("lot_paiement.index_view", **args)
                if ordres is not None:
                    liens["recouvre"] = liens["reste_du"] = url_for(
                        "reversement.index_view", **filter_args(ordres, "dispositif_id", pid))
                out[(ligne.programme, ligne.mois)] = liens
        return out

    @expose("/")
    def index(self):
        r, ref, erreur = self._restitution()
        if erreur:
            return self.render("admin/pilotage.html", erreur=erreur, ref=ref, args=request.args, r=None,
                               niveaux=NIVEAUX), 400
        tables = wf.tableaux(r)
        return self.render("admin/pilotage.html", erreur=None, ref=ref, args=request.args, r=r, tables=tables,
                           intitule=_intitule(r), liens=self._liens(r), niveaux=NIVEAUX,
                           graphique=_graphique(r), peut_exporter=policy.allows("pilotage", "export", current_user),
                           montant=format_montant, nombre=lambda v: format_nombre(v, 0))

    # ---- export: the very tables of the screen ---------------------------------------------------

    def _export(self):
        if not policy.allows(self.policy_endpoint, "export", current_user):
            abort(403)
        r, ref, erreur = self._restitution()
        if erreur:
            return None, erreur
        return r, None

    @expose("/export.csv")
    def export_csv(self):
        r, erreur = self._export()
        if erreur:
            return Response(erreur, status=400, mimetype="text/plain")
        # French Excel: « ; » and a UTF-8 BOM, amounts 1234,56 (as the grids' exports, admin_views.base)
        writer = csv.writer(_Echo(), delimiter=CSV_DELIMITER)
        out = ["\ufeff" + writer.writerow([neutraliser_formule(_intitule(r))])]
        for t in wf.tableaux(r):
            out.append(writer.writerow([]))
            out.append(writer.writerow([t.titre]))
            out.append(writer.writerow(t.entetes))
            out += [writer.writerow([csv_cell(v) if not isinstance(v, str) else neutraliser_formule(v)
                                     for v in ligne.valeurs]) for ligne in t.lignes]
        return Response("".join(out), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment;filename={_nom_fichier(r)}.csv"})

    @expose("/export.xlsx")
    def export_xlsx(self):
        r, erreur = self._export()
        if erreur:
            return Response(erreur, status=400, mimetype="text/plain")
        from openpyxl import Workbook
        from openpyxl.styles import Font

        book = Workbook()
        book.remove(book.active)
        bold = Font(bold=True)
        for t in wf.tableaux(r):
            sheet = book.create_sheet(title=t.titre[:31])
            sheet.append([_intitule(r)])
            sheet.append(t.entetes)
            for c in sheet[2]:
                c.font = bold
            for ligne in t.lignes:
                sheet.append([neutraliser_formule(v) if isinstance(v, str) else v for v in ligne.valeurs])
                for c in sheet[sheet.max_row]:
                    if isinstance(c.value, str):
                        c.data_type = "s"  # text is never a formula (issue 12 §4)
                    elif isinstance(c.value, Decimal):
                        c.number_format = "#,##0.00"
        buf = io.BytesIO()
        book.save(buf)
        return Response(buf.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment;filename={_nom_fichier(r)}.xlsx"})


def _args(query) -> dict:
    """The form sends the région and the département in two lists; `territoire` (a link, a test) wins."""
    args = {k: query.get(k) for k in ("debut", "fin", "niveau", "programme", "territoire")}
    if not (args["territoire"] or "").strip():
        niveau = (args["niveau"] or "").strip()
        args["territoire"] = query.get("region") if niveau == "region" else query.get("departement")
    return args


def _between():
    from flask_admin.contrib.sqla import filters as sqla_filters
    return sqla_filters.DateBetweenFilter


def _nom_fichier(r: wf.Restitution) -> str:
    f = r.filtres
    terr = f"_{f.territoire}" if f.territoire else ""
    prog = f"_{f.programme}" if f.programme else ""
    return f"pilotage_{f.niveau}{terr}{prog}_{f.debut:%Y-%m}_{f.fin:%Y-%m}"


def _graphique(r: wf.Restitution) -> dict:
    """The chart's figures (amounts as strings of euros): per month, versé, recouvré and reste dû over the
    programmes shown; the same figures are in the table."""
    keys = r.cles_mois
    series = {k: [] for k in ("verse", "recouvre", "reste_du")}
    for k in keys:
        for s in series:
            series[s].append(str(sum((r.cellules[(p, k)][s] for p in r.programmes if (p, k) in r.cellules),
                                     Decimal("0.00"))))
    # a list, not a mapping: the JSON filter sorts a mapping's keys, the legend keeps this order
    return {"labels": [f"{k[5:]}/{k[:4]}" for k in keys], "series": [[k, v] for k, v in series.items()]}
