"""``peerpulse org status``: one row per manager, from the shared database.

Why its own module: an administrator of thousands of mailboxes needs one table
(and JSON for monitoring) of who synced, who got this week's digest, and whose
token needs re-authorization, not the single-manager ``status`` prose.
"""

from __future__ import annotations

from typing import Any

from peerpulse.worker.org.jobs import CONNECT_SOURCE
from peerpulse.worker.org.runtime import Runtime


def account_rows(rt: Runtime) -> list[dict[str, Any]]:
    rows = []
    with rt.store() as store:
        for account in rt.settings.accounts:
            statuses = store.source_statuses(account.name)
            runs = [s for s in statuses if s.last_run_started is not None]
            last = max((s.last_run_started for s in runs), default=None)  # type: ignore[type-var]
            current = [s for s in runs if s.source != CONNECT_SOURCE or s.last_run_started == last]
            errors = [f"{s.source}: {s.last_run_error}" for s in current
                      if s.last_run_outcome not in ("ok", "running") and s.last_run_error]
            summary = store.ledger_last_summary(account.name)
            rows.append({
                "account": account.name,
                "recipient": account.recipient,
                "last_sync": last.isoformat(timespec="minutes") if last else None,
                "last_digest": f"{summary.period} {summary.state}" if summary else None,
                "error": "; ".join(errors) or None,
                "needs_reauth": any(s.last_run_outcome == "auth" for s in current),
            })
    return rows


def render_table(rows: list[dict[str, Any]]) -> str:
    head = ("account", "last sync", "last digest", "re-auth", "error")
    body = [(r["account"], r["last_sync"] or "never", r["last_digest"] or "none",
             "YES" if r["needs_reauth"] else "", (r["error"] or "")[:80]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in (head, *body)]
    return "\n".join(lines)
