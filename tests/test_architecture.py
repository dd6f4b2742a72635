"""The dependency direction is a test, not a wish (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import re
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


def layer(module: str) -> str:
    """The layer a dotted import name belongs to: 'worker' for peerpulse.worker.x."""
    parts = module.split(".")
    if parts[0] == "peerpulse" and len(parts) > 1:
        return parts[1]
    return parts[0]


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
        if layer(m) in {"rules", "worker"}
    ]
    assert bad == []


def test_rules_import_only_records_and_themselves():
    bad = [
        (p.relative_to(REPO), m)
        for p, m in imports_of("rules")
        if (layer(m) in {"worker", "connectors"} and m != "peerpulse.connectors.records")
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
    [
        "peerpulse.connectors.records",
        "peerpulse.connectors.base",
        "peerpulse.connectors.registry",
        "peerpulse.rules",
        "peerpulse.worker.store",
        # discovers every provider (entry points) to build the config model
        "peerpulse.worker.config",
        "peerpulse.worker.cli",
    ],
)
def test_core_modules_do_not_pull_in_provider_libraries(module):
    code = (
        f"import sys, {module}; "
        "from peerpulse.connectors.registry import registry; registry(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PROVIDER_LIBS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


def test_only_the_peerpulse_namespace_is_installed():
    """Top-level `rules`, `worker` or `connectors` would collide with PyPI projects."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "peerpulse" or p.startswith("peerpulse.") for p in config["packages"])
    on_disk = {
        "peerpulse." + ".".join(init.parent.relative_to(REPO).parts)
        for top in ("connectors", "rules", "worker")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert on_disk <= set(config["packages"]), "a subpackage is missing from pyproject.toml"


# Provider names and their client libraries. worker/demo is left out: it writes
# synthetic export *files* shaped like Google Takeout, it does not talk to Google.
PROVIDER_WORDS = re.compile(
    r"\b(google\w*|gmail|microsoft|msal|exchangelib|graph api)\b", re.IGNORECASE
)


def test_the_worker_names_no_provider():
    """Providers plug in through connectors.registry; the worker stays generic."""
    offenders = []
    for path in sorted((REPO / "worker").rglob("*.py")):
        if "demo" in path.relative_to(REPO / "worker").parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if PROVIDER_WORDS.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_provider_is_found_through_its_entry_point():
    import tomllib
    from importlib.metadata import entry_points

    from peerpulse.connectors.registry import GROUP_CONNECTORS, registry

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    installed = {ep.name for ep in entry_points(group=GROUP_CONNECTORS)}
    assert set(declared[GROUP_CONNECTORS]) <= installed
    found = registry()
    assert found.broken == {}
    assert {"files", "google", "memory"} <= set(found.providers)
    assert {"smtp", "file", "stdout", "gmail"} <= set(found.deliveries)
    assert "google" in found.auth


def test_help_and_usage_errors_load_no_provider_and_no_pydantic():
    """Only `peerpulse auth` needs the registry (its subcommands come from plugins)."""
    code = (
        "import sys, peerpulse.worker.cli as cli; cli.build_parser(with_providers=False); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' "
        "or m.startswith('peerpulse.connectors')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


def test_help_loads_no_store_no_task_engine_and_no_database_driver():
    """`peerpulse --help` and `peerpulse org --help` parse only: organization mode's
    Procrastinate, psycopg and asyncio, and the store backends, load when a command runs."""
    code = (
        "import sys, contextlib, io, peerpulse.worker.cli as cli\n"
        "for argv in (['--help'], ['org', '--help'], ['org', 'worker', '--bogus']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.build_parser(with_providers=False).parse_args(argv)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('procrastinate', 'psycopg', 'psycopg_pool', 'asyncio') "
        "or m.startswith(('peerpulse.worker.store', 'peerpulse.worker.org.')) "
        "and m != 'peerpulse.worker.org.cli'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"
