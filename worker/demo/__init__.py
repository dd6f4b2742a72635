"""The deterministic synthetic organization: real export files plus their ground truth.

``generate(out_dir, seed=..., managers=..., months=..., scale=..., end=...)``
writes ``people.csv``, ``calendar/dana.ics``, ``mail/dana.mbox``,
``ground_truth.jsonl`` and ``demo.json``. Same arguments, byte-identical files.
"""

from peerpulse.worker.demo.generate import DemoSummary, generate

__all__ = ["DemoSummary", "generate"]
