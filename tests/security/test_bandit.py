"""bandit finds nothing of high severity in backoffice/ (CI runs the same command)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_reports_no_high_severity_issue():
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or shutil.which("bandit")
    if bandit is None:
        service_unavailable("bandit absent (pip install -e '.[test]')")
    result = subprocess.run([bandit, "-r", "backoffice", "-lll", "-q"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
