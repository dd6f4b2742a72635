"""The enrolled managers, kept in the shared database (``org_managers``).

Why in the database and not in the config: every worker, on any machine, must
see the same list the moment ``org enroll`` changes it, without redeploying a
config file. The row holds only what enrollment decided (the account name, the
owner's address, the per-manager overrides, active or why not); the account's
full settings are the config's ``[organization.template]`` with those overrides
applied (:func:`account_config`), so a template change reaches every manager.

A manager who leaves or opts out is deactivated, not deleted: the row keeps
the name bound to that address, so a return re-uses the same account and its
history (which the retention purge ages out like any other).
"""

from __future__ import annotations

from peerpulse.worker.config import AccountConfig, DigestConfig, ManagerTemplate
from peerpulse.worker.store.postgres_roster import Enrollment, create, load, load_one, save

__all__ = ["Enrollment", "account_config", "create", "load", "load_one", "save"]

#: Override keys that change the account's [accounts.digest] table.
DIGEST_KEYS = ("recipient", "day", "time")


def account_config(template: ManagerTemplate, row: Enrollment) -> AccountConfig:
    """The enrolled manager's account: the template with the row's overrides."""
    over = row.overrides
    digest = template.digest
    changes = {k: over[k] for k in DIGEST_KEYS if over.get(k) is not None}
    if changes:
        digest = DigestConfig.model_validate({**digest.model_dump(), **changes})
    return AccountConfig(
        name=row.account, owner=row.owner, timezone=over.get("timezone") or template.timezone,
        source=template.source, digest=digest, delivery=template.delivery,
    )
