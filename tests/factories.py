"""Factories (A3/A6 style): make_x(session, **overrides) -> a flushed row with sensible defaults."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backoffice import models as m
from backoffice.models.enums import AllocationNature, AllocationStatut, CerfaStatut, CerfaType

_seq = itertools.count(1)

VALID_IBANS = ["FR7630006000011234567890189", "FR1420041010050500013M02606"]


@dataclass
class Reference:
    structures: dict
    dispositifs: dict
    comptes: dict

    @property
    def nord(self):
        return self.structures["ML-ANT-NORD"]

    @property
    def sud(self):
        return self.structures["ML-ANT-SUD"]


def make_reference(session) -> Reference:
    from seeds.comptes import load_demo_accounts
    from seeds.referentiel import load_catalogue, load_structures
    structures = load_structures(session)
    dispositifs = load_catalogue(session)
    comptes = load_demo_accounts(session, structures)
    session.commit()
    return Reference(structures, dispositifs, comptes)


def make_beneficiaire(session, antenne, **kw) -> m.Beneficiaire:
    n = next(_seq)
    values = dict(identifiant_imilo=f"IM{n:08d}", nom=f"Martin{n}", prenom="Léa",
                  nom_recherche=f"MARTIN{n} LEA", date_naissance=date(2004, 5, 17), antenne_id=antenne.id,
                  inscrit_france_travail=True, email=f"jeune{n}@exemple.fr")
    values.update(kw)
    b = m.Beneficiaire(**values)
    session.add(b)
    session.flush()
    return b


def make_compte_bancaire(session, beneficiaire, **kw) -> m.CompteBancaire:
    values = dict(beneficiaire_id=beneficiaire.id, iban=VALID_IBANS[0], bic="AGRIFRPP",
                  titulaire=f"{beneficiaire.prenom} {beneficiaire.nom}".upper())
    values.update(kw)
    cb = m.CompteBancaire(**values)
    session.add(cb)
    session.flush()
    return cb


def make_inscription(session, beneficiaire, dispositif, **kw) -> m.Inscription:
    n = next(_seq)
    values = dict(numero=f"P{n:09d}", beneficiaire_id=beneficiaire.id, dispositif_id=dispositif.id,
                  antenne_id=beneficiaire.antenne_id, date_debut=date(2025, 3, 3), date_fin_prevue=date(2026, 3, 2))
    values.update(kw)
    i = m.Inscription(**values)
    session.add(i)
    session.flush()
    return i


def make_cerfa(session, inscription, compte_bancaire=None, **kw) -> m.Cerfa:
    n = next(_seq)
    values = dict(numero=f"CERFA-{n:07d}", inscription_id=inscription.id, antenne_id=inscription.antenne_id,
                  type_version=CerfaType.INITIAL, date_signature=date(2025, 3, 3),
                  compte_bancaire_id=compte_bancaire.id if compte_bancaire else None,
                  titulaire_rib=compte_bancaire.titulaire if compte_bancaire else None,
                  rib_imprime=compte_bancaire is not None, montant_prevu=Decimal("561.68"),
                  statut=CerfaStatut.SAISI)
    values.update(kw)
    c = m.Cerfa(**values)
    session.add(c)
    session.flush()
    return c


def make_allocation(session, inscription, cerfa=None, **kw) -> m.Allocation:
    values = dict(inscription_id=inscription.id, cerfa_id=cerfa.id if cerfa else None,
                  beneficiaire_id=inscription.beneficiaire_id, dispositif_id=inscription.dispositif_id,
                  antenne_id=inscription.antenne_id, mois=date(2025, 4, 1), nature=AllocationNature.COURANTE,
                  statut=AllocationStatut.ENREGISTREE, montant_forfaitaire=Decimal("561.68"),
                  montant=Decimal("561.68"))
    values.update(kw)
    a = m.Allocation(**values)
    session.add(a)
    session.flush()
    return a


def make_parcours_cej(session, antenne, dispositifs, **kw):
    """A youth with a RIB, a CEJ enrolment and its initial cerfa: the usual starting point."""
    b = make_beneficiaire(session, antenne, **kw)
    cb = make_compte_bancaire(session, b)
    i = make_inscription(session, b, dispositifs["CEJ"])
    c = make_cerfa(session, i, cb)
    return b, cb, i, c


def make_echeance_allocation(session, allocation, compte_bancaire, *, montant=None, statut=None) -> m.Echeance:
    """The payable of an allocation version (issue 13), for a test that writes its payment by hand."""
    from backoffice.models.enums import EcheanceStatut, SourceEcheance, TypeBeneficiairePaiement
    e = m.Echeance(dispositif_id=allocation.dispositif_id, source_type=SourceEcheance.ALLOCATION,
                   source_id=allocation.id, periode=allocation.mois.replace(day=1),
                   payee_type=TypeBeneficiairePaiement.JEUNE, payee_id=allocation.beneficiaire_id,
                   compte_bancaire_id=compte_bancaire.id, iban=compte_bancaire.iban, bic=compte_bancaire.bic,
                   titulaire=compte_bancaire.titulaire, libelle="ALLOCATION",
                   montant=montant if montant is not None else allocation.montant,
                   statut=statut or EcheanceStatut.PAYEE, tentatives=1)
    session.add(e)
    session.flush()
    return e
