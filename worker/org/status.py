"""``peerpulse org status``: one row per manager, from the shared database.

Why its own module: an administrator of thousands of mailboxes needs one table
(and JSON for monitoring) of who synced, who got this week's digest, and whose
token needs re-authorization, not the single-manager ``status`` prose. The
organization's shared directory, when configured, is the first row.
"""

from __future__ import annotations

from typing import Any

from peerpulse.worker import loading
from peerpulse.worker.config import DIRECTORY_ACCOUNT, AccountConfig
from peerpulse.worker.org.jobs import CONNECT_SOURCE, shared_directory
from peerpulse.worker.org.runtime import Runtime
from peerpulse.worker.store.protocol import Store
from peerpulse.worker.store.rows import LedgerState

#: Digest states an administrator must look at (the send failed, or may not have
#: happened: see docs/ORGANIZATION.md on the 'unknown' window).
_BAD_DIGEST = {LedgerState.FAILED, LedgerState.UNKNOWN}


def account_rows(rt: Runtime) -> list[dict[str, Any]]:
    """The directory's row (if shared), then every configured or enrolled account's."""
    accounts = rt.accounts()
    configured = {a.name for a in rt.settings.accounts}
    rows = []
    with rt.store() as store:
        if shared_directory(rt):
            rows.append(_row(store, DIRECTORY_ACCOUNT, None, "directory"))
        for account in accounts:
            kind = "configured" if account.name in configured else "enrolled"
            rows.append(_row(store, account.name, account, kind))
    return rows


def _row(store: Store, name: str, account: AccountConfig | None, kind: str) -> dict[str, Any]:
    statuses = store.source_statuses(name)
    runs = [s for s in statuses if s.last_run_started is not None]
    last = max((s.last_run_started for s in runs), default=None)  # type: ignore[type-var]
    current = [s for s in runs if s.source != CONNECT_SOURCE or s.last_run_started == last]
    errors = [f"{s.source}: {s.last_run_error}" for s in current
              if s.last_run_outcome not in ("ok", "running") and s.last_run_error]
    summary = store.ledger_last_summary(name) if account is not None else None
    if summary is not None and summary.state in _BAD_DIGEST:
        errors.append(f"digest {summary.period} {summary.state}: {summary.error or 'no detail'}")
    return {
        "account": name,
        "kind": kind,  # directory | configured | enrolled
        "recipient": account.recipient if account is not None else None,
        "last_sync": last.isoformat(timespec="minutes") if last else None,
        "last_digest": f"{summary.period} {summary.state}" if summary else None,
        "last_digest_period": summary.period if summary else None,
        "last_digest_state": str(summary.state) if summary else None,
        "error": "; ".join(errors) or None,
        "errors": errors,
        "needs_reauth": any(s.last_run_outcome == "auth" for s in current),
        # a first sync still loading history (worker/loading.py): its digest holds back
        # reconnect and reciprocity meanwhile; None once complete
        "history_loading": _loading(store, name) if account is not None else None,
    }


def _loading(store: Store, name: str) -> dict[str, Any] | None:
    history = loading.status(store, name)
    if history.complete:
        return None
    return loading.describe(history, list(loading.HELD), loading.flagged_sections(history))


def _history_cell(info: dict[str, Any] | None) -> str:
    """"" when complete; "loading 42%" (or "loading") while a first sync is under way."""
    if info is None:
        return ""
    done = info.get("percent_done")
    return f"loading {done}%" if done is not None else "loading"


def render_table(rows: list[dict[str, Any]]) -> str:
    head = ("account", "recipient", "last sync", "last digest", "history", "re-auth", "error")
    body = [(r["account"], r["recipient"] or "-", r["last_sync"] or "never",
             r["last_digest"] or ("-" if r["kind"] == "directory" else "none"),
             _history_cell(r.get("history_loading")),
             "YES" if r["needs_reauth"] else "", (r["error"] or "")[:80]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in (head, *body)]
    failing = sum(1 for r in rows if r["error"] or r["needs_reauth"])
    managers = sum(1 for r in rows if r["kind"] != "directory")
    lines.append(f"{managers} managers; {failing} need attention" if failing
                 else f"{managers} managers; all healthy")
    return "\n".join(lines)
