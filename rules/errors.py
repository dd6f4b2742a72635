"""The one exception the rules package raises: a rule file that cannot be used.

It carries what a user needs to fix the file (file, line, column, key, what is
wrong). The worker maps it to its own ``RulesError`` and exit code 2; keeping
this class here preserves the import direction (``rules`` never imports
``worker``).
"""

from __future__ import annotations


class RuleError(Exception):
    """A rule file is invalid. Raised by :func:`rules.loader.load_rules`."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        line: int | None = None,
        column: int | None = None,
        key: str = "",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "rules"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" [{self.key}]" if self.key else ""
        return f"{where}{key}: {self.message}"
