"""Hypothesis state machine over the allocation and hors-délai workflows, against PostgreSQL.

Random actors run random transitions on random rows; after every step the invariants hold:
- no status change outside the transition tables (every audit event is a table row or a creation);
- at most one allowance per youth and month (R15/R20), corrections aside;
- the requester of a hors-délai never approves it (R48);
- nothing is paid above the computed entitlement.
"""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from backoffice.models import Allocation, AuditEvent, DemandeHorsDelai, Paiement
from backoffice.models.enums import CerfaStatut, HorsDelaiStatut, Role
from backoffice.workflows import Selection, registry, run
from backoffice.workflows.allocations import ALLOCATION
from backoffice.workflows.cerfa import CERFA
from backoffice.workflows.errors import WorkflowError
from backoffice.workflows.hors_delai import HORS_DELAI
from backoffice.workflows.saisie import enregistrer_allocation
from tests import factories as f

NOW = datetime(2025, 6, 2, 9, 0)
CREATION_ACTIONS = {"enregistrer", "corriger", "emettre"}


def allowed_moves():
    moves = set()
    for wf in registry().values():
        for t in wf.transitions.values():
            for s in t.source:
                moves.add((wf.entity, t.name, getattr(s, "value", s), getattr(t.target, "value", t.target)))
    return moves


def test_allocation_and_hors_delai_workflows_keep_their_invariants(db, ref):
    session = db.session
    from backoffice.models import Compte
    from backoffice.passwords import hash_password
    manager2 = Compte(login="manager2", role=Role.MANAGER, prenom="Marc", nom="Second", email="m2@x.fr",
                      structure_id=ref.structures["ML-SIEGE"].id, password_hash=hash_password("x"),
                      must_change_password=False)
    session.add(manager2)
    session.commit()
    actors = {**ref.comptes, "manager2": manager2}
    moves = allowed_moves()

    class Machine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.inscriptions = []
            self.allocations = []
            self.demandes = []
            self.cerfas = []

        @rule(antenne=st.sampled_from(["ML-ANT-NORD", "ML-ANT-SUD"]), validated=st.booleans())
        def new_youth(self, antenne, validated):
            b, cb, i, c = f.make_parcours_cej(session, ref.structures[antenne], ref.dispositifs)
            if validated:
                c.statut = CerfaStatut.SIGNE_RECU
            session.commit()
            self.inscriptions.append(i.id)
            self.cerfas.append(c.id)

        @precondition(lambda self: self.cerfas)
        @rule(data=st.data(), who=st.sampled_from(["siege", "conseiller"]))
        def validate_cerfa(self, data, who):
            ids = data.draw(st.lists(st.sampled_from(self.cerfas), min_size=1, max_size=3))
            try:
                run(session, CERFA, "valider", Selection.of_ids(ids), actors[who], now=NOW)
                session.commit()
            except WorkflowError:
                session.rollback()

        @precondition(lambda self: self.inscriptions)
        @rule(data=st.data(), month=st.integers(1, 12), salary=st.sampled_from(["0", "250", "600", "1500"]))
        def record_allocation(self, data, month, salary):
            insc = data.draw(st.sampled_from(self.inscriptions))
            try:
                with session.begin_nested():
                    # recorded in time, the 1st of the next month (R35/R48: a late month is refused)
                    a = enregistrer_allocation(session, inscription_id=insc, mois=date(2025, month, 1),
                                               lignes=[("Salaire", Decimal(salary))], actor=actors["conseiller"],
                                               now=datetime(2025 + month // 12, month % 12 + 1, 1, 9, 0))
                session.commit()
                self.allocations.append(a.id)
            except sa.exc.IntegrityError:  # the unique key refused a second allowance for that month
                session.rollback()

        @precondition(lambda self: self.allocations)
        @rule(data=st.data(), name=st.sampled_from(["soumettre", "valider", "refuser"]),
              who=st.sampled_from(["conseiller", "conseiller2", "siege", "manager"]))
        def allocation_transition(self, data, name, who):
            ids = data.draw(st.lists(st.sampled_from(self.allocations), min_size=1, max_size=4))
            params = {"motif_refus": "Contrôle"} if name == "refuser" else None
            try:
                run(session, ALLOCATION, name, Selection.of_ids(ids), actors[who], params=params, now=NOW)
                session.commit()
            except WorkflowError:
                session.rollback()

        @precondition(lambda self: self.inscriptions)
        @rule(data=st.data(), who=st.sampled_from(["conseiller", "manager", "manager2"]),
              month=st.integers(1, 6))
        def request_hors_delai(self, data, who, month):
            insc = data.draw(st.sampled_from(self.inscriptions))
            d = DemandeHorsDelai(inscription_id=insc, antenne_id=ref.nord.id, mois=date(2023, month, 1),
                                 montant_demande=Decimal("561.68"), motif="Oubli", demandeur_id=actors[who].id)
            session.add(d)
            session.commit()
            self.demandes.append(d.id)

        @precondition(lambda self: self.demandes)
        @rule(data=st.data(), name=st.sampled_from(["approuver", "refuser", "annuler"]),
              who=st.sampled_from(["manager", "manager2", "conseiller"]))
        def hors_delai_transition(self, data, name, who):
            ids = data.draw(st.lists(st.sampled_from(self.demandes), min_size=1, max_size=3))
            params = {"motif_refus": "Non justifié"} if name == "refuser" else None
            try:
                run(session, HORS_DELAI, name, Selection.of_ids(ids), actors[who], params=params, now=NOW)
                session.commit()
            except (WorkflowError, sa.exc.IntegrityError):
                session.rollback()

        @invariant()
        def no_transition_outside_the_tables(self):
            rows = session.execute(sa.select(AuditEvent.entity, AuditEvent.action, AuditEvent.from_status,
                                             AuditEvent.to_status).where(AuditEvent.from_status.is_not(None))
                                   .distinct()).all()
            for row in rows:
                assert tuple(row) in moves or row.action in CREATION_ACTIONS, row

        @invariant()
        def one_allowance_per_youth_and_month(self):
            dup = session.execute(sa.select(Allocation.beneficiaire_id, Allocation.mois, sa.func.count())
                                  .where(Allocation.corrige_id.is_(None), Allocation.statut.notin_(["refusee", "remplacee"]))
                                  .group_by(Allocation.beneficiaire_id, Allocation.mois)
                                  .having(sa.func.count() > 1)).all()
            assert dup == []

        @invariant()
        def requester_never_approver(self):
            same = session.execute(sa.select(sa.func.count()).select_from(DemandeHorsDelai).where(
                DemandeHorsDelai.approbateur_id == DemandeHorsDelai.demandeur_id)).scalar_one()
            assert same == 0
            approved = session.execute(sa.select(DemandeHorsDelai).where(
                DemandeHorsDelai.statut == HorsDelaiStatut.APPROUVEE)).scalars().all()
            for d in approved:
                assert d.approbateur_id is not None and d.approbateur_id != d.demandeur_id

        @invariant()
        def never_paid_above_entitlement(self):
            over = session.execute(sa.select(sa.func.count()).select_from(Paiement).join(
                Allocation, Allocation.id == Paiement.allocation_id).where(Paiement.montant > Allocation.montant)
            ).scalar_one()
            assert over == 0

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=15, stateful_step_count=30, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    moved = dict(session.execute(sa.select(AuditEvent.action, sa.func.count()).where(
        AuditEvent.from_status.is_not(None)).group_by(AuditEvent.action)).all())
    # the machine really exercised the tables, including refusals and four-eyes approvals
    assert moved.get("soumettre", 0) + moved.get("valider", 0) > 0, moved
    assert moved.get("approuver", 0) + moved.get("refuser", 0) + moved.get("annuler", 0) > 0, moved
