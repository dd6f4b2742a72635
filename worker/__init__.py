"""The imperative shell: config, store, sync orchestration, digest, delivery, CLI."""
