"""The yearly items of the actual declaration as data (R57, issue 15 §2), on the populated database: filled in by
the provider of their part (R60), checked against their bounds on save (nothing written on a bad value), missing
mandatory items block the declaration (R59), and the Caf's administrator changes them without a migration."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backoffice import models as m
from backoffice.models.enums import DeclarationType as DT, NatureAnomalie, PartAfas, TypeItemAfas
from backoffice.workflows.afas_items import items_actifs, saisir_items, valeurs
from backoffice.workflows.errors import TransitionRefused
from seeds.programmes import items_exemple
from tests.workflows.test_afas import T0, Service

pytestmark = pytest.mark.populated


@pytest.fixture
def service(db, ref):
    return Service(db.session, ref)


def test_R57_about_twenty_items_defined_as_data_with_type_bounds_and_provider(db, ref):
    items = items_actifs(db.session)
    assert 18 <= len(items) <= 25
    assert {it.part for it in items} == {PartAfas.ACTIVITE, PartAfas.FINANCES}
    jours = next(it for it in items if it.code == "JOURS_OUVERTURE")
    assert (jours.type, jours.minimum, jours.maximum, jours.obligatoire) == (TypeItemAfas.ENTIER, 0, 366, True)


def test_R57_a_value_outside_its_bounds_refuses_the_whole_form_and_writes_nothing(service, db):
    d = service.declaration(2024, DT.REELLE, items=False)
    saisie = {**items_exemple(db.session, "activite"), "JOURS_OUVERTURE": "400", "NB_FAMILLES": "12,5"}
    with pytest.raises(TransitionRefused) as exc:
        saisir_items(db.session, actor=service.act, declaration_id=d.id, saisie=saisie, now=T0)
    assert "Jours d'ouverture au public dans l'année : 366 au plus." in str(exc.value)
    assert "Nombre de familles accueillies dans l'année : un nombre entier est attendu." in str(exc.value)
    assert valeurs(db.session, d.id) == {}


def test_R59_R57_missing_mandatory_items_block_the_actual_then_filled_it_passes(service, db):
    d = service.declaration(2024, DT.REELLE, items=False)
    a = service.anomalies(d)["ITEMS-ANNUELS"]
    assert a.nature == NatureAnomalie.BLOQUANTE and "Nombre de familles" in a.libelle
    assert service.go(d, "controler", service.fin).changed == 0
    assert saisir_items(db.session, actor=service.act, declaration_id=d.id,
                        saisie=items_exemple(db.session, "activite"), now=T0) > 0
    assert "ITEMS-ANNUELS" in service.anomalies(d)  # the financial provider's items still missing
    saisir_items(db.session, actor=service.fin, declaration_id=d.id, saisie=items_exemple(db.session, "finances"),
                 now=T0)
    assert "ITEMS-ANNUELS" not in service.anomalies(d)
    assert service.go(d, "controler", service.fin).changed == 1
    v = valeurs(db.session, d.id)
    jours = next(it for it in items_actifs(db.session) if it.code == "OUVERTURE_SAMEDI")
    assert v[jours.id].valeur_nombre == D("1")  # « oui »
    # a forecast asks no yearly item
    assert "ITEMS-ANNUELS" not in service.anomalies(service.declaration(2025))


def test_R60_the_activity_provider_cannot_fill_in_a_financial_item(service, db):
    d = service.declaration(2024, DT.REELLE, items=False)
    with pytest.raises(TransitionRefused, match="Seul le fournisseur de données financières"):
        saisir_items(db.session, actor=service.act, declaration_id=d.id,
                     saisie={"NB_FAMILLES": "12", "PARTICIPATION_FAMILLES": "1 200,00"}, now=T0)
    assert valeurs(db.session, d.id) == {}


def test_R57_the_caf_changes_the_items_as_data_bounds_and_a_new_item_apply_at_once(service, db):
    d = service.declaration(2024, DT.REELLE)
    assert "ITEMS-ANNUELS" not in service.anomalies(d)
    jours = db.session.scalars(sa.select(m.ItemAnnuelAfas).where(m.ItemAnnuelAfas.code == "JOURS_OUVERTURE")).one()
    saisir_items(db.session, actor=service.act, declaration_id=d.id, saisie={"JOURS_OUVERTURE": "250"}, now=T0)
    jours.maximum = D("200")  # tightened by the administrator
    db.session.add(m.ItemAnnuelAfas(code="NB_GRANDS_PARENTS", libelle="Rencontres avec des grands-parents",
                                    type=TypeItemAfas.ENTIER, part=PartAfas.ACTIVITE, minimum=0, maximum=1000,
                                    obligatoire=True, actif=True, ordre=999))
    db.session.flush()
    from backoffice.workflows import afas
    afas.enregistrer(db.session, [d.id], actor=service.act, now=T0, part=afas.PART_ACTIVITE)
    found = service.anomalies(d)
    assert "Rencontres avec des grands-parents" in found["ITEMS-ANNUELS"].libelle
    assert "Jours d'ouverture" in found["ITEM-BORNES"].libelle
    assert found["ITEM-BORNES"].nature == NatureAnomalie.BLOQUANTE
    with pytest.raises(TransitionRefused, match="200 au plus"):
        saisir_items(db.session, actor=service.act, declaration_id=d.id, saisie={"JOURS_OUVERTURE": "250"}, now=T0)
    saisir_items(db.session, actor=service.act, declaration_id=d.id,
                 saisie={"JOURS_OUVERTURE": "190", "NB_GRANDS_PARENTS": "4"}, now=T0)
    assert not {"ITEMS-ANNUELS", "ITEM-BORNES"} & set(service.anomalies(d))
