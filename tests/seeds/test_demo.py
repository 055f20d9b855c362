"""The demo data: coherent with the rules, deterministic, loadable by the real commands."""

import hashlib
import os
import re
import signal
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


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def demo_env(tmp_path, database: Path | None = None, **extra) -> dict:
    """The environment of a new user's `backoffice demo`: their own SQLite, no MAIL_SERVER (the demo's
    mail sink then), the demo mailbox under tmp_path."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database or tmp_path / 'demo.sqlite3'}",
               DEMO_MAILBOX_DIR=str(tmp_path / "boite"))
    for name in ("MAIL_SERVER", "MAIL_PORT", "PUBLIC_URL", "JOBS_MODE", "REDIS_URL"):
        env.pop(name, None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Demo:
    """`backoffice demo --port P` as a subprocess, its output in a file (a pipe nobody reads would fill)."""

    def __init__(self, tmp_path, env: dict):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"demo-{self.port}.log"
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen([str(BIN), "demo", "--port", str(self.port)], env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text()

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2)
                return
            except OSError:
                assert self.proc.poll() is None, self.output()
                time.sleep(0.5)
        raise AssertionError("la démo ne répond pas :\n" + self.output())

    def opener(self, login: str | None = None, password: str = "Demo-2026!"):
        """A browser-like client (cookies), logged in through the real /login form when `login` is given."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        if login:
            self.post_form(opener, "/login", {"username": login, "password": password})
        return opener

    def post_form(self, opener, path: str, data: dict):
        page = opener.open(f"{self.base}{path}").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"', page)
        data = {**data, "csrf_token": token.group(1) or token.group(2)}
        return opener.open(f"{self.base}{path}", data=urllib.parse.urlencode(data).encode())

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        return self.log.read_text()


def test_backoffice_demo_serves_the_seeded_back_office_on_a_fresh_sqlite(tmp_path):
    demo = Demo(tmp_path, demo_env(tmp_path, JOBS_MODE="inline"))
    try:
        demo.wait_ready()
        opener = demo.opener("siege")
        grid = opener.open(f"{demo.base}/admin/allocation/").read().decode()
        assert "Allocations" in grid and "badge-statut" in grid and "€" in grid
        # jobs in the web process: the mail is in the demo mailbox when the answer comes back
        demo.post_form(demo.opener(), "/password/forgot", {"username": "conseiller"})
        mailbox = demo.opener("support").open(f"{demo.base}/admin/boite-mail/").read().decode()
        assert "Réinitialisation de votre mot de passe" in mailbox
    finally:
        out = demo.stop()
    assert "Jobs :" in out and "Demo-2026!" in out and "http://127.0.0.1" in out
    # the embedded default: a local mail sink, and where to read what it received
    assert "Mails : serveur SMTP de démonstration sur 127.0.0.1:" in out and "/admin/boite-mail/" in out


# -- the demo stops with its worker (issue 19) ------------------------------------------------------

def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()  # state, ppid, …, starttime at index 19
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process under `pid`, read from /proc (psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                children.setdefault(int(stat[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            stat = _proc_stat(child)
            if stat is not None:
                out.append((child, stat[19]))
                todo.append(child)
    return out


def alive(pid: int, started: str) -> bool:
    """The same process (pid and start time) still runs; a zombie nobody reaps is gone."""
    stat = _proc_stat(pid)
    return stat is not None and stat[19] == started and stat[0] != "Z"


@pytest.fixture
def redis_db9():
    from redis import Redis

    from tests.conftest import service_unavailable
    conn = Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except Exception as exc:  # noqa: BLE001
        service_unavailable(f"Redis injoignable : {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory) -> Path:
    """One SQLite for the module's demos: seeded by the first, reused by the next (as a user restarts it)."""
    return tmp_path_factory.mktemp("demo-db") / "demo.sqlite3"


def wait_for_worker(demo: Demo, redis_conn, timeout: float = 90) -> list[tuple[int, str]]:
    """The demo's RQ worker registered in Redis, and its scheduler process started: its whole tree."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        tree = descendants(demo.proc.pid)
        if redis_conn.scard("rq:workers") and len(tree) >= 2:
            return tree
        assert demo.proc.poll() is None, demo.output()
        time.sleep(0.3)
    raise AssertionError("le worker RQ de la démo n'a pas démarré :\n" + demo.output())


@pytest.mark.redis
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_backoffice_demo_stopped_by_a_signal_leaves_no_process_behind(tmp_path, demo_database, redis_db9, sig):
    demo = Demo(tmp_path, demo_env(tmp_path, database=demo_database, REDIS_URL=REDIS_URL))
    tree = []
    try:
        demo.wait_ready()
        tree = wait_for_worker(demo, redis_db9)
        assert "Jobs : worker RQ lancé" in demo.output()
        out = demo.stop(sig)
        deadline = time.time() + 20
        while time.time() < deadline and any(alive(p, t) for p, t in tree):
            time.sleep(0.2)
        left = [p for p, t in tree if alive(p, t)]
        assert left == [], f"processus restés après {sig.name} : {left}\n{out}"
        # SIGKILL: no clean-up in the demo, its worker sees its parent gone and stops by itself
        assert demo.proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 0), out
        assert redis_db9.scard("rq:workers") == 0  # the worker left cleanly (warm shutdown)
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
        for pid, started in tree:  # what the defect leaves behind: ours, killed by pid
            if alive(pid, started):
                os.kill(pid, signal.SIGKILL)


# -- the queue names agree everywhere (issue 19) ----------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_worker_default_queues_the_readme_and_the_queue_page_agree():
    from backoffice.cli import worker
    from backoffice.queue import QUEUES
    default = next(p.default for p in worker.params if p.name == "queues")
    assert default.split(",") == list(QUEUES)
    # the outbox relay and the periodic jobs run in "default": a worker without it lets them pile up
    commands = re.findall(r"^backoffice worker.*$", README.read_text(), flags=re.M)
    assert commands
    for command in commands:
        named = re.search(r"(?:-q|--queues)[ =](\S+)", command)
        if named:
            assert set(named.group(1).split(",")) >= set(QUEUES), command


# -- the worker's log: one line per job, no traceback for an expected failure (issue 19) --------------

from tests.jobs.conftest import free_port, jobs_app, redis_conn, run_worker_burst  # noqa: E402,F401  (fixtures)


@pytest.mark.redis
def test_the_worker_logs_one_line_per_job_and_no_traceback_for_an_expected_mail_failure(jobs_app, db, ref,
                                                                                         redis_conn):
    from backoffice.queue import get_queue
    from tests.auth.conftest import post_form
    dead = free_port()  # nothing listens there: the mail cannot be delivered, an expected failure
    jobs_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=dead)
    assert post_form(jobs_app.test_client(), "/password/forgot", {"username": "conseiller"}).status_code == 302
    mail_job = redis_conn.lrange("rq:queue:mail", 0, -1)
    assert len(mail_job) == 1
    mail_job = mail_job[0].decode()
    get_queue("payments", jobs_app).enqueue("backoffice.jobs.paiements.emit_due_batches", job_id="tache-ok")
    get_queue("default", jobs_app).enqueue("backoffice.jobs.paiements.tache_inexistante", job_id="tache-cassee")
    out = run_worker_burst(jobs_app, MAIL_SERVER="127.0.0.1", MAIL_PORT=dead)
    lines = out.splitlines()
    for job_id in (mail_job, "tache-ok"):
        mine = [line for line in lines if job_id in line]
        assert len(mine) == 1, (job_id, out)
    assert "non distribué" in next(line for line in lines if mail_job in line)
    assert "terminé" in next(line for line in lines if "tache-ok" in line)
    # a real defect keeps its traceback; the expected mail failure has none
    assert "MailNonDistribue" not in out and "send_pending_mail" not in out[out.index("Traceback"):], out
    assert "tache_inexistante" in out[out.index("Traceback"):]
    before = out[:out.index("Traceback")].splitlines()
    assert len(before) <= 6, out  # the worker's line, one per job, the broken job's own line


@pytest.mark.populated
def test_the_demo_outbox_was_delivered_by_the_mail_job_to_a_real_smtp_server(populated_db):
    """Issue 19: the outbox's statuses come from jobs.mail.send_pending_mail talking SMTP during the load (a
    mailbox refusing with 451 for some recipients), never written into the table: sent mails after their
    creation, refused ones failed after the job's five attempts with the server's answer, later ones queued."""
    from backoffice.models.enums import MailStatut
    rows = populated_db.session.execute(sa.select(m.MailOutbox)).scalars().all()
    by = {s: [r for r in rows if r.statut == s] for s in MailStatut}
    assert by[MailStatut.ENVOYE] and by[MailStatut.ECHEC] and by[MailStatut.EN_FILE]
    assert all(r.envoye_at is not None and r.envoye_at >= r.created_at and r.sujet for r in by[MailStatut.ENVOYE])
    assert all(r.tentatives == 5 and "451" in (r.derniere_erreur or "") for r in by[MailStatut.ECHEC])
    # one mailbox refuses every mail to it: no recipient is both delivered and failed among the first-round mails
    failed = {r.destinataire for r in by[MailStatut.ECHEC]}
    assert not failed & {r.destinataire for r in by[MailStatut.ENVOYE]}
