"""Whether an argument list is a command line `peerpulse` accepts (for the image's
CMD, the Kubernetes args and the compose commands)."""

from __future__ import annotations

import contextlib
import io

from peerpulse.worker.cli import build_parser


def parse_error(argv: list[str]) -> str | None:
    """None if ``peerpulse argv`` parses, else argparse's complaint."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(argv)
    except SystemExit:
        return err.getvalue().strip() or f"rejected: {argv}"
    if not callable(getattr(args, "func", None)):
        return f"no command runs for {argv}"
    return None
