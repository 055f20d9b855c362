"""Hypothesis (issue 11): random money histories of several youths, each with two enrolments, on the populated
database, through the real workflows only: allocations entered (saisie), submitted, validated, sent to payment,
batches emitted and reconciled, corrections (R46), ordres de reversement (R47), notifications, cancellations and
repayments, interleaved.

After every step, for every correction in the database (the demo's too), its differential as the application
computes it (`differentiel_expr`) equals, computed here in plain Python from the rows: its amount minus the net
already paid for the same enrolment and month over the earlier versions (payments emis or exécutés, minus
reversements not cancelled). When a correction is paid or gives a reversement, the payment or the order carries
exactly that differential; a correction with nothing to pay is closed « rien à payer ».
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from backoffice.models import Allocation, LotPaiement, Paiement, Reversement
from backoffice.models.enums import (AllocationNature as N, AllocationStatut as AS, CerfaStatut, CerfaType,
                                     LotStatut, PaiementStatut as PS, ReversementStatut as RS)
from backoffice.workflows import Selection, run
from backoffice.workflows.allocations import ALLOCATION, CORRIGEABLES, differentiel_expr
from backoffice.workflows.errors import TransitionRefused, WorkflowError
from backoffice.workflows.paiements import emettre_lot, rapprocher_lot
from backoffice.workflows.reversements import REVERSEMENT, enregistrer_remboursement
from backoffice.workflows.saisie import corriger_allocation, enregistrer_allocation
from tests import factories as f

pytestmark = pytest.mark.populated

NOW = datetime(2025, 6, 20, 9, 0)
MONTHS = ([date(2025, 3, 1), date(2025, 4, 1)], [date(2025, 5, 1), date(2025, 6, 1)])  # per enrolment
SALARIES = ["0", "250", "600", "800", "1500"]


def net_paid_in_python(allocs, payments, reversements):
    """{correction id: (amount, net already paid)} from plain rows, without the application's SQL."""
    by_key = defaultdict(list)
    for a in allocs:
        by_key[(a.inscription_id, a.mois)].append(a.id)
    paid, rev = defaultdict(Decimal), defaultdict(Decimal)
    for p in payments:
        if p.statut in (PS.EMIS, PS.EXECUTE):
            paid[p.allocation_id] += p.montant
    for r in reversements:
        if r.statut != RS.ANNULE:
            rev[r.allocation_id] += r.montant
    out = {}
    for a in allocs:
        if a.corrige_id is None:
            continue
        earlier = [i for i in by_key[(a.inscription_id, a.mois)] if i < a.id]
        out[a.id] = (a.montant, sum((paid[i] - rev[i] for i in earlier), Decimal("0.00")))
    return out


def _recorded_on(mois):
    """In time (R35): the 2nd of the month after, before its last regular sending."""
    return datetime(mois.year + mois.month // 12, mois.month % 12 + 1, 2, 9, 0)


def test_every_correction_differential_is_its_amount_minus_what_its_earlier_versions_got_R46_R47(db, ref):
    session = db.session
    comptes = ref.comptes
    cols = (Allocation.id, Allocation.inscription_id, Allocation.mois, Allocation.corrige_id, Allocation.montant)

    def expected(ids=None):
        """From the rows of every enrolment holding a correction (or of `ids`' enrolments)."""
        keys = (sa.select(Allocation.inscription_id).where(Allocation.corrige_id.is_not(None)) if ids is None
                else sa.select(Allocation.inscription_id).where(Allocation.id.in_(ids)))
        allocs = session.execute(sa.select(*cols).where(Allocation.inscription_id.in_(keys))).all()
        ids_ = [a.id for a in allocs]
        payments = session.execute(sa.select(Paiement.allocation_id, Paiement.montant, Paiement.statut)
                                   .where(Paiement.allocation_id.in_(ids_))).all()
        revs = session.execute(sa.select(Reversement.allocation_id, Reversement.montant, Reversement.statut)
                               .where(Reversement.allocation_id.in_(ids_))).all()
        table = net_paid_in_python(allocs, payments, revs)
        return {k: v[0] - v[1] for k, v in table.items() if ids is None or k in ids}

    stats = defaultdict(int)

    class Histoire(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.inscriptions = []  # (inscription id, its months)
            for _ in range(3):
                b, cb, i1, c1 = f.make_parcours_cej(session, ref.nord, ref.dispositifs)
                c1.statut = CerfaStatut.ACCEPTE
                i1.date_fin_prevue = date(2025, 4, 30)  # R20: the renewal's CEJ follows, never overlaps
                session.flush()
                i2 = f.make_inscription(session, b, ref.dispositifs["CEJ"], date_debut=date(2025, 5, 1))
                f.make_cerfa(session, i2, cb, statut=CerfaStatut.ACCEPTE, type_version=CerfaType.RENOUVELLEMENT)
                self.inscriptions += [(i1.id, MONTHS[0]), (i2.id, MONTHS[1])]
            session.commit()
            self.allocs = []
            self.reversements = []

        def _try(self, fn):
            try:
                out = fn()
                session.commit()
                return out
            except (WorkflowError, sa.exc.IntegrityError, ValueError):  # refused, or a second one for the month
                session.rollback()
                return None

        @rule(data=st.data(), salary=st.sampled_from(["0", "0", "250"] + SALARIES))
        def enter(self, data, salary):
            insc, months = data.draw(st.sampled_from(self.inscriptions))
            mois = data.draw(st.sampled_from(months))

            def go():
                with session.begin_nested():
                    return enregistrer_allocation(session, inscription_id=insc, mois=mois,
                                                  lignes=[("Salaire", Decimal(salary))], actor=comptes["conseiller"],
                                                  now=_recorded_on(mois))
            a = self._try(go)
            if a is not None:
                self.allocs.append(a.id)

        def _step(self, aid):
            """One step of this allocation's life cycle by the role that does it; False when none applies."""
            a = session.get(Allocation, aid)
            session.refresh(a)
            sel = Selection.of_ids([aid])
            if a.statut == AS.ENREGISTREE and a.nature == N.ENTREE:
                r = self._try(lambda: run(session, ALLOCATION, "valider_entree", sel, comptes["siege"], now=NOW,
                                          system=True))
            elif a.statut == AS.ENREGISTREE:
                r = self._try(lambda: run(session, ALLOCATION, "soumettre", sel, comptes["conseiller"], now=NOW))
            elif a.statut == AS.SOUMISE:
                r = self._try(lambda: run(session, ALLOCATION, "valider", sel, comptes["siege"], now=NOW))
            elif a.statut == AS.VALIDEE_SIEGE:
                return self._send(aid, sel)
            else:
                return False
            return bool(r and r.changed)

        def _send(self, aid, sel):
            due = expected({aid}).get(aid)
            report = self._try(lambda: run(session, ALLOCATION, "transmettre", sel, comptes["siege"], now=NOW))
            if report is not None and report.changed:
                pay = session.execute(sa.select(Paiement.montant).where(Paiement.allocation_id == aid)).scalar()
                statut = session.execute(sa.select(Allocation.statut).where(Allocation.id == aid)).scalar_one()
                if due is not None:  # a correction: its complement, or closed with nothing to pay
                    assert due >= 0, (aid, due)
                    assert (pay, statut) == ((due, AS.TRANSMISE) if due > 0 else (None, AS.RIEN_A_PAYER))
                    stats["complément" if due > 0 else "rien à payer"] += 1
                return True
            if due is not None and due < 0:  # a trop-perçu: the accountant's ordre de reversement
                issued = self._try(lambda: run(session, ALLOCATION, "emettre_reversement", sel,
                                               comptes["comptable"], now=NOW))
                assert issued is not None and issued.changed == 1, issued
                rev = session.execute(sa.select(Reversement).where(Reversement.allocation_id == aid)).scalar_one()
                assert rev.montant == -due
                self.reversements.append(rev.id)
                stats["reversement"] += 1
                return True
            return False

        @precondition(lambda self: self.allocs)
        @rule(data=st.data(), steps=st.integers(1, 4), emit=st.booleans())
        def advance(self, data, steps, emit):
            """An allocation up to `steps` steps further: submitted, validated, sent to payment or reversed; then
            maybe its batch emitted at once."""
            aid = data.draw(st.sampled_from(self.allocs))
            for _ in range(steps):
                if not self._step(aid):
                    break
            lot_id = session.execute(sa.select(Paiement.lot_id).join(LotPaiement).where(
                Paiement.allocation_id == aid, LotPaiement.statut == LotStatut.PREPAREE)).scalar()
            if emit and lot_id is not None:
                self._try(lambda: emettre_lot(session, lot_id, now=NOW, actor=comptes["comptable"]))
                stats["lot émis"] += 1

        @precondition(lambda self: self.allocs)
        @rule(data=st.data(), salary=st.sampled_from(["0", "0"] + SALARIES))
        def correct(self, data, salary):
            corrected = sa.select(Allocation.corrige_id).where(Allocation.corrige_id.is_not(None))
            open_ = session.execute(sa.select(Allocation.id).where(
                Allocation.id.in_(self.allocs), Allocation.statut.in_(CORRIGEABLES),
                Allocation.id.notin_(corrected)).order_by(Allocation.id)).scalars().all()
            if not open_:
                return
            aid = data.draw(st.sampled_from(open_))
            new = self._try(lambda: corriger_allocation(session, aid, lignes=[("Salaire", Decimal(salary))],
                                                        actor=comptes["conseiller"]))
            if new is not None:
                self.allocs.append(new.id)
                stats["correction"] += 1

        @precondition(lambda self: self.allocs)
        @rule(data=st.data())
        def refuse(self, data):
            """The siège refuses a submitted or validated allocation (a correction of it is then paid in full)."""
            aid = data.draw(st.sampled_from(self.allocs))
            self._try(lambda: run(session, ALLOCATION, "refuser", Selection.of_ids([aid]), comptes["siege"], now=NOW,
                                  params={"motif_refus": "Justificatif de ressources manquant"}))

        @precondition(lambda self: self.allocs)
        @rule(reconcile=st.booleans())
        def emit_batches(self, reconcile):
            """The accountant emits the open batches holding this history's payments, then maybe reconciles."""
            mine = sa.select(Paiement.lot_id).where(Paiement.allocation_id.in_(self.allocs))
            for lot_id in session.execute(sa.select(LotPaiement.id).where(
                    LotPaiement.id.in_(mine), LotPaiement.statut == LotStatut.PREPAREE)).scalars().all():
                self._try(lambda: emettre_lot(session, lot_id, now=NOW, actor=comptes["comptable"]))
                stats["lot émis"] += 1
            if reconcile:
                for lot_id in session.execute(sa.select(LotPaiement.id).where(
                        LotPaiement.id.in_(mine), LotPaiement.statut == LotStatut.EMISE)).scalars().all():
                    self._try(lambda: rapprocher_lot(session, lot_id, actor=comptes["comptable"], now=NOW))

        @precondition(lambda self: self.reversements)
        @rule(data=st.data(), action=st.sampled_from(["notifier", "annuler", "rembourser", "rembourser"]))
        def reversement(self, data, action):
            rid = data.draw(st.sampled_from(self.reversements))
            sel = Selection.of_ids([rid])
            if action == "notifier":
                self._try(lambda: run(session, REVERSEMENT, "notifier", sel, comptes["comptable"], now=NOW))
            elif action == "annuler":
                if self._try(lambda: run(session, REVERSEMENT, "annuler", sel, comptes["comptable"], now=NOW,
                                         params={"motif": "Erreur de saisie des ressources"})):
                    stats["annulation"] += 1
            else:
                r = session.get(Reversement, rid)
                session.refresh(r)
                reste = r.montant - r.montant_rembourse - r.montant_remis
                part = max(Decimal("0.01"), (reste / 2).quantize(Decimal("0.01"))) if reste > 0 else Decimal("1.00")
                try:
                    enregistrer_remboursement(session, rid, montant=part, date_reception=date(2025, 7, 1),
                                              mode="virement", reference=None, actor=comptes["comptable"], now=NOW)
                    session.commit()
                    stats["remboursement"] += 1
                except TransitionRefused:
                    session.rollback()

        @invariant()
        def differential_is_amount_minus_net_paid_of_earlier_versions(self):
            computed = dict(session.execute(sa.select(Allocation.id, differentiel_expr())
                                            .where(Allocation.corrige_id.is_not(None))).all())
            assert computed == expected()

    run_state_machine_as_test(Histoire, settings=settings(
        max_examples=15, stateful_step_count=50, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    # the histories really went through corrections, payments and reversements
    assert stats["correction"] and stats["lot émis"] and stats["reversement"] and stats["complément"], dict(stats)
