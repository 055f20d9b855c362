"""The demo data: coherent with the rules, deterministic, loadable by the real commands."""

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import sqlalchemy as sa
from schwifty import IBAN
from stdnum.fr import siret

from backoffice import models as m
from backoffice.models.enums import AllocationStatut, CerfaStatut
from seeds import demo_already_loaded, load_demo

BIN = Path(sys.executable).parent / "backoffice"


@pytest.fixture
def demo(db):
    load_demo(db.session, seed=2026)
    return db.session


def test_demo_covers_every_cerfa_and_allocation_status_that_users_meet(demo):
    cerfa = {s for (s,) in demo.execute(sa.select(m.Cerfa.statut).distinct())}
    alloc = {s for (s,) in demo.execute(sa.select(m.Allocation.statut).distinct())}
    assert {CerfaStatut.SAISI, CerfaStatut.SIGNE_RECU, CerfaStatut.VALIDE_SIEGE, CerfaStatut.TRANSMIS,
            CerfaStatut.ACCEPTE, CerfaStatut.REFUSE} <= cerfa
    assert {AllocationStatut.ENREGISTREE, AllocationStatut.SOUMISE, AllocationStatut.VALIDEE_SIEGE,
            AllocationStatut.ACCEPTEE, AllocationStatut.VERSEE, AllocationStatut.REFUSEE} <= alloc
    assert demo.execute(sa.select(sa.func.count()).select_from(m.Reversement)).scalar_one() > 0
    assert demo.execute(sa.select(sa.func.count()).select_from(m.AuditEvent)).scalar_one() > 1000


def test_demo_identifiers_are_valid_and_holders_fit_their_cerfa_R38_R75_R76(demo):
    for (iban,) in demo.execute(sa.select(m.CompteBancaire.iban)):
        IBAN(iban, validate_bban=True)  # raises on a wrong RIB key
    for (value,) in demo.execute(sa.select(m.Etablissement.siret)):
        assert siret.is_valid(value)
    too_long = demo.execute(
        sa.select(sa.func.count()).select_from(m.Cerfa).join(m.Inscription).join(m.Dispositif)
        .where(sa.func.length(m.Cerfa.titulaire_rib) > m.Dispositif.longueur_max_titulaire)).scalar_one()
    assert too_long == 0


def test_demo_respects_one_allowance_per_youth_and_month_and_four_eyes_R15_R20_R48(demo):
    dup = demo.execute(sa.select(m.Allocation.beneficiaire_id, m.Allocation.mois).where(m.Allocation.corrige_id.is_(None))
                       .group_by(m.Allocation.beneficiaire_id, m.Allocation.mois).having(sa.func.count() > 1)).all()
    assert dup == []
    same = demo.execute(sa.select(sa.func.count()).select_from(m.DemandeHorsDelai)
                        .where(m.DemandeHorsDelai.approbateur_id == m.DemandeHorsDelai.demandeur_id)).scalar_one()
    assert same == 0


def test_demo_has_one_locked_account_and_active_demo_accounts(demo):
    locked = demo.execute(sa.select(m.Compte.login).where(m.Compte.statut == "verrouille")).scalars().all()
    assert locked == ["conseiller3"]
    assert demo_already_loaded(demo)


def digest(session) -> str:
    rows = session.execute(sa.select(m.Beneficiaire.identifiant_imilo, m.Beneficiaire.nom, m.Beneficiaire.prenom,
                                     m.Allocation.montant).join(m.Allocation)
                           .order_by(m.Beneficiaire.identifiant_imilo, m.Allocation.mois)).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_demo_is_deterministic_for_a_seed(tmp_path):
    digests = []
    for k in range(2):
        url = f"sqlite:///{tmp_path}/d{k}.sqlite3"
        env = dict(os.environ, DATABASE_URL=url, JOBS_MODE="inline")
        subprocess.run([str(BIN), "seed", "--seed", "7"], env=env, check=True, capture_output=True, timeout=300)
        engine = sa.create_engine(url)
        with sa.orm.Session(engine) as s:
            digests.append(digest(s))
        engine.dispose()
    assert digests[0] == digests[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backoffice_demo_serves_the_seeded_back_office_on_a_fresh_sqlite(tmp_path):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3", JOBS_MODE="inline")
    proc = subprocess.Popen([str(BIN), "demo", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        page = opener.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"', page)
        token = token.group(1) or token.group(2)
        data = urllib.parse.urlencode({"username": "siege", "password": "Demo-2026!", "csrf_token": token}).encode()
        opener.open(f"{base}/login", data=data)
        grid = opener.open(f"{base}/admin/allocation/").read().decode()
        assert "Allocations" in grid and "badge-statut" in grid and "€" in grid
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "Jobs :" in out and "Demo-2026!" in out and "http://127.0.0.1" in out
