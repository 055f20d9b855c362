"""Parcours follow-up (issue 17 §2, §5) on the populated database: PACEA interviews and the two-month alert
(R16), CEJ weekly activity hours (R5), the auto-entrepreneur exit (R19), CEP level 2 (R18), the adviser's home."""

import re
from datetime import date, datetime
from html import unescape

import pytest
import sqlalchemy as sa

from backoffice.models import Inscription, MotifSortie
from backoffice.models.enums import AllocationStatut, InscriptionStatut as S
from backoffice.workflows import Selection, run
from backoffice.workflows.errors import InvalidParameters
from backoffice.workflows.parcours import PARCOURS, ouvrir_inscription, pacea_sans_contact
from tests import factories as f

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 16, 9, 0)
_n = iter(range(1, 10_000))


def ouvrir(db, ref, b, code, debut=date(2025, 3, 3), **kw):
    insc = ouvrir_inscription(db.session, numero=f"PS{next(_n):07d}", beneficiaire_id=b.id,
                              dispositif_id=ref.dispositifs[code].id, date_debut=debut,
                              actor=ref.comptes["conseiller"], now=NOW, **kw)
    db.session.commit()
    return insc


def go(db, ref, name, ids, who="conseiller", now=NOW, **params):
    report = run(db.session, PARCOURS, name, Selection.of_ids(ids), ref.comptes[who], params=params, now=now)
    db.session.commit()
    db.session.expire_all()
    return report


def sans_contact(db, today):
    return set(db.session.execute(sa.select(Inscription.id).where(pacea_sans_contact(today))).scalars())


def test_pacea_without_an_interview_for_two_months_raises_the_alert_until_one_is_recorded_R16(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    pacea = ouvrir(db, ref, b, "PACEA", debut=date(2025, 3, 3))
    assert pacea.id not in sans_contact(db, date(2025, 5, 2))
    assert pacea.id in sans_contact(db, date(2025, 5, 3))  # 2 months since the start, no interview
    assert go(db, ref, "entretien", [pacea.id], date_entretien=date(2025, 5, 20)).changed == 1
    assert db.session.get(Inscription, pacea.id).dernier_contact == date(2025, 5, 20)
    assert pacea.id not in sans_contact(db, date(2025, 6, 16))
    assert pacea.id in sans_contact(db, date(2025, 7, 20))
    # an older interview typed later never moves the last contact back; a future one is refused
    go(db, ref, "entretien", [pacea.id], date_entretien=date(2025, 4, 2))
    assert db.session.get(Inscription, pacea.id).dernier_contact == date(2025, 5, 20)
    refused = go(db, ref, "entretien", [pacea.id], date_entretien=date(2025, 7, 1))
    assert refused.changed == 0 and "date d'entretien hors du parcours ou dans le futur (R16)" in refused.refused


def test_cej_weekly_activity_hours_are_recorded_per_month_R5(db, ref):
    b = f.make_beneficiaire(db.session, ref.nord)
    cej = ouvrir(db, ref, b, "CEJ")
    assert go(db, ref, "heures", [cej.id], mois=date(2025, 3, 15), heures="17,5").changed == 1
    assert go(db, ref, "heures", [cej.id], mois=date(2025, 4, 1), heures="12").changed == 1
    assert db.session.get(Inscription, cej.id).heures_activite == {"2025-03": "17.5", "2025-04": "12"}
    with pytest.raises(InvalidParameters):
        go(db, ref, "heures", [cej.id], mois=date(2025, 5, 1), heures="beaucoup")
    db.session.rollback()
    bad = go(db, ref, "heures", [cej.id], mois=date(2025, 5, 1), heures="75")
    assert bad.changed == 0 and any(r.endswith("(R5)") for r in bad.refused)
    pacea = ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "PACEA")
    assert pacea.niveau_cep == 2  # R18
    assert "les heures d'activité hebdomadaires se suivent au CEJ (R5)" in go(
        db, ref, "heures", [pacea.id], mois=date(2025, 4, 1), heures="15").refused


def test_a_youth_who_became_auto_entrepreneur_during_the_cej_exits_for_autonomy_R19(db, ref):
    # already auto-entrepreneur at entry: may enter the CEJ
    deja = f.make_beneficiaire(db.session, ref.nord, micro_entrepreneur=True, activite_micro="bnc",
                               date_immatriculation_micro=date(2024, 6, 1))
    assert ouvrir(db, ref, deja, "CEJ").statut == S.OUVERT
    b = f.make_beneficiaire(db.session, ref.nord)
    cej = ouvrir(db, ref, b, "CEJ")
    b = db.session.get(type(b), b.id)
    b.micro_entrepreneur, b.activite_micro, b.date_immatriculation_micro = True, "bic_services", date(2025, 5, 12)
    db.session.commit()
    motifs = {m.libelle: m.id for m in db.session.execute(sa.select(MotifSortie).where(
        MotifSortie.dispositif_id == ref.dispositifs["CEJ"].id)).scalars()}
    refused = go(db, ref, "cloturer", [cej.id], motif_sortie_id=str(motifs["Abandon du jeune"]),
                 date_fin=date(2025, 5, 31))
    assert refused.changed == 0 and any(r.endswith("(R19)") for r in refused.refused)
    assert go(db, ref, "cloturer", [cej.id], motif_sortie_id=str(motifs["Accès à l'autonomie"]),
              date_fin=date(2025, 5, 31)).changed == 1
    assert db.session.get(Inscription, cej.id).sortie_positive is True


def _cards(html):
    return {unescape(label): (unescape(href) if href else None, int(value))
            for href, value, label in re.findall(
                r'<(?:a|div) class="card[^"]*"(?: href="([^"]*)")?[^>]*>\s*<div class="card-body">\s*'
                r'<div class="h3 mb-0">(\d+)</div>\s*<div class="text-muted small">([^<]*)</div>', html)}


def test_the_advisers_home_counts_their_antenne_only_and_links_to_the_filtered_grid(db, ref, login_as, app):
    app.config["NOW_OVERRIDE"] = NOW  # June 2025
    nord = [ouvrir(db, ref, f.make_beneficiaire(db.session, ref.nord), "RE", debut=date(2025, 3, 20))
            for _ in range(2)]  # both end on 19/06/2025
    ouvrir(db, ref, f.make_beneficiaire(db.session, ref.sud), "RE", debut=date(2025, 3, 20))  # another antenne
    expected = db.session.execute(sa.select(sa.func.count()).select_from(Inscription).where(
        Inscription.antenne_id == ref.nord.id, Inscription.statut.in_([S.OUVERT, S.RENOUVELE]),
        Inscription.date_fin_prevue.between(date(2025, 6, 1), date(2025, 6, 30)))).scalar_one()
    assert expected >= len(nord)
    c = login_as("conseiller")
    cards = _cards(c.get("/admin/").get_data(as_text=True))
    url, value = cards["Parcours qui se terminent ce mois-ci"]
    assert value == expected
    listing = c.get(url).get_data(as_text=True)
    assert all(i.numero in listing for i in nord)
    for label in ("PACEA sans entretien depuis 2 mois (R16)", "CEJ : auto-entrepreneurs à sortir (R19)",
                  "Allocations à soumettre", "Allocations refusées à corriger", "Cerfa refusés à corriger"):
        assert label in cards
    from backoffice.models import Allocation
    a_soumettre = db.session.execute(sa.select(sa.func.count()).select_from(Allocation).where(
        Allocation.antenne_id == ref.nord.id, Allocation.statut == AllocationStatut.ENREGISTREE)).scalar_one()
    assert cards["Allocations à soumettre"][1] == a_soumettre
    assert "Parcours qui se terminent ce mois-ci" not in _cards(login_as("siege").get("/admin/").get_data(as_text=True))
