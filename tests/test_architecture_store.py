"""SQL lives in worker/store/ only (docs/ARCHITECTURE.md, "Connector state and the store").

Everything else goes through the ``Store`` protocol, so a second backend
(PostgreSQL) is a new module under worker/store/ and not a hunt through the
worker for query strings or cursors.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STORE = REPO / "worker" / "store"

_SQL = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|"
    r"DROP\s+\w|ALTER\s+TABLE|PRAGMA\s+\w)\b|^\s*(BEGIN|COMMIT|ROLLBACK)(\s|;|$)"
)  # BEGIN:VEVENT (iCalendar) is not SQL
# Exceptions may be named (the CLI turns a damaged file into one message);
# connections and cursors may not.
_SQLITE_FORBIDDEN = {"connect", "Cursor", "Connection", "Row"}


def _is_call(node: ast.Attribute) -> bool:
    # ``store.cursor(account, source)`` is the sync cursor, a Store method with
    # two arguments; a database cursor is ``.cursor()`` with none.
    parent = getattr(node, "_parent", None)
    return isinstance(parent, ast.Call) and not parent.args


def _annotate_parents(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child._parent = node  # type: ignore[attr-defined]


def _scan(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    _annotate_parents(tree)
    worker = path.is_relative_to(REPO / "worker")
    name = str(path.relative_to(REPO))
    return [v for node in ast.walk(tree) for v in _node_violations(node, name, worker)]


def _node_violations(node: ast.AST, name: str, worker: bool) -> list[str]:
    """Why one AST node of a module outside worker/store/ breaks the seam."""
    line = f"{name}:{getattr(node, 'lineno', '?')}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [f"{line}: SQL string {node.value[:40]!r}"] if _SQL.match(node.value) else []
    if not isinstance(node, ast.Attribute):
        return []
    if isinstance(node.value, ast.Name) and node.value.id == "sqlite3":
        return [f"{line}: sqlite3.{node.attr}"] if node.attr in _SQLITE_FORBIDDEN else []
    if worker and node.attr in {"execute", "executemany", "executescript"}:
        return [f"{line}: .{node.attr}(...)"]
    if worker and node.attr == "cursor" and _is_call(node):
        return [f"{line}: .cursor()"]
    return []


def _modules() -> list[Path]:
    paths = []
    for package in ("connectors", "rules", "worker"):
        for path in sorted((REPO / package).rglob("*.py")):
            if not path.is_relative_to(STORE):
                paths.append(path)
    return paths


def test_no_sql_or_database_cursor_outside_the_store():
    found = [v for path in _modules() for v in _scan(path)]
    assert found == [], "SQL belongs behind the Store protocol:\n" + "\n".join(found)


def test_the_check_catches_a_ledger_that_writes_its_own_sql(tmp_path):
    # The shape worker/ledger.py had before the ledger SQL moved into the store.
    module = tmp_path / "ledger.py"
    module.write_text(
        "import sqlite3\n"
        "def claim(store, key):\n"
        "    with store.transaction() as cur:\n"
        "        cur.execute(f\"UPDATE digest_ledger SET state = 'sending' WHERE {W}\", key)\n"
        "def _select(cur: sqlite3.Cursor, key):\n"
        "    return cur.execute('SELECT * FROM digest_ledger', key).fetchone()\n"
    )
    found = _scan_as_worker(module)
    assert any(".execute" in v for v in found)
    assert any("SQL string" in v and "UPDATE digest_ledger" in v for v in found)
    assert any("SQL string 'SELECT * FROM" in v for v in found)
    assert any("sqlite3.Cursor" in v for v in found)


def test_the_sync_cursor_and_prose_are_not_mistaken_for_sql(tmp_path):
    module = tmp_path / "sync.py"
    module.write_text(
        "def resume(store, account, source):\n"
        "    '''Select the newest cursor; update nothing.'''\n"
        "    print('Update your calendar export')\n"
        "    return store.cursor(account, source)\n"
    )
    assert _scan_as_worker(module) == []


def _scan_as_worker(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    _annotate_parents(tree)
    return [v for node in ast.walk(tree) for v in _node_violations(node, path.name, True)]
