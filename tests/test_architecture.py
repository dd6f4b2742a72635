"""The dependency direction is a test, not a wish (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROVIDER_LIBS = (
    "google",
    "googleapiclient",
    "google_auth_oauthlib",
    "msal",
    "exchangelib",
    "httplib2",
)


def imports_of(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def test_connectors_never_import_rules_or_worker():
    bad = [
        (p.relative_to(REPO), m)
        for p, m in imports_of("connectors")
        if m.split(".")[0] in {"rules", "worker"}
    ]
    assert bad == []


def test_rules_import_only_records_and_themselves():
    bad = [
        (p.relative_to(REPO), m)
        for p, m in imports_of("rules")
        if (m.split(".")[0] in {"worker", "connectors"} and m != "connectors.records")
        or m.split(".")[0] in PROVIDER_LIBS
    ]
    assert bad == []


def test_rules_do_no_io_and_read_no_clock():
    forbidden = {
        "open(",
        "datetime.now(",
        "time.time(",
        "date.today(",
        "socket",
        "sqlite3",
        "subprocess",
        "os.environ",
        "Path(",
    }
    offenders = []
    for path in sorted((REPO / "rules").rglob("*.py")):
        text = path.read_text()
        offenders += [(path.name, f) for f in forbidden if f in text]
    assert offenders == []


@pytest.mark.parametrize(
    "module",
    ["connectors.records", "connectors.base", "connectors.registry", "rules", "worker.store"],
)
def test_core_modules_do_not_pull_in_provider_libraries(module):
    code = (
        f"import sys, {module}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PROVIDER_LIBS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"
