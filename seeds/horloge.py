"""The demo's one anchor (issue 19): every date of every programme's seed derives from the `today` it is loaded on.

The plans of the seeds are written in a reference calendar (REFERENCE, 16/06/2025: the demo's former fixed « today »);
`jour()` / `moment()` move a reference date by a whole number of months, keeping the day of the month (the 1st stays
the 1st, the R41 days stay R41 days): from the 4th of a month (BASCULE) that month is the image of June 2025, so no
planned event falls after `today`. `pas` keeps what has a calendar of its own: 3 for the quarterly declarations of
the adultes-relais (R52), 12 for the Afas yearly cycle (R56). Loaded on 16/06/2025 the shift is 0: the demo is the
one the tests have always known.

The history is written with the clock moved (backoffice.clock.deplacee / deplacer): `horloger(fn)` makes a workflow
call given `now=` move the clock there first, so the created_at / updated_at and audit timestamps of what it writes
are those of that moment."""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from backoffice import clock

REFERENCE = date(2025, 6, 16)
HEURE = time(9, 0)
# The plans' events of the reference month (June 2025) end on the 3rd: from the 4th of a month on, that month is
# the reference month's image (the plans' end-of-month dates, a contract ending on the 30th, stay ahead of today).
BASCULE = 4


@dataclass(frozen=True)
class Ancre:
    today: date
    t0: datetime     # the demo's « now »: today 9:00; loaded on the real today, the real time (a minute ago)
    mois: int        # the shift of the reference calendar, in months

    def decalage(self, pas: int = 1) -> int:
        return self.mois - self.mois % pas  # floor: the shifted reference day stays on or before today


_ANCRE: Ancre | None = None


def fixer(today: date | None = None) -> Ancre:
    """Set the anchor: `today` (default: the real today, from backoffice.clock)."""
    global _ANCRE
    reel = clock.now()
    today = today or reel.date()
    t0 = datetime.combine(today, HEURE)
    if today == reel.date():  # `backoffice demo`: the lock of a quarter of an hour ago is one of the real clock
        t0 = max(datetime.combine(today, time(0, 0)), reel.replace(microsecond=0) - timedelta(minutes=1))
    mois = (today.year - REFERENCE.year) * 12 + today.month - REFERENCE.month - (today.day < BASCULE)
    _ANCRE = Ancre(today=today, t0=t0, mois=mois)
    return _ANCRE


def ancre() -> Ancre:
    if _ANCRE is None:
        return fixer()
    return _ANCRE


def aujourdhui() -> date:
    return ancre().today


def t0() -> datetime:
    return ancre().t0


def ajouter_mois(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    y, m = divmod(index, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def jour(y: int, m: int, d: int = 1, *, pas: int = 1) -> date:
    """The reference calendar's date (y, m, d) on the demo's calendar."""
    return ajouter_mois(date(y, m, d), ancre().decalage(pas))


def moment(y: int, m: int, d: int = 1, h: int = 0, mi: int = 0, *, pas: int = 1) -> datetime:
    return datetime.combine(jour(y, m, d, pas=pas), time(h, mi))


def annee(y: int, *, pas: int = 12) -> int:
    """A reference year (an exercice) on the demo's calendar."""
    return y + ancre().decalage(pas) // 12


def a(moment_: datetime) -> datetime:
    """Move the clock to `moment_` (inside the seed's deplacee block) and give it back: `now=a(x)`."""
    clock.deplacer(moment_)
    return moment_


def a_jour(d: date, h: int = 9) -> datetime:
    return a(datetime.combine(d, time(h, 0)))


def horloger(fn):
    """`fn(…, now=x)` moves the clock to x first."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        now = kwargs.get("now")
        if isinstance(now, datetime):
            clock.deplacer(now)
        return fn(*args, **kwargs)
    return wrapper


class Module:
    """A workflow module whose functions move the clock to their `now=` (its constants unchanged)."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if callable(value) and not isinstance(value, type) and hasattr(value, "__code__"):
            return horloger(value)
        return value
