"""peerpulse: keeps a manager's peer network alive.

The code lives in three folders at the top of the repository, installed under
this one name: `peerpulse.connectors` (sources in, normalized records out),
`peerpulse.rules` (pure inference, scoring and recommendations) and
`peerpulse.worker` (store, schedule, digest, delivery, CLI). See
docs/ARCHITECTURE.md.
"""
