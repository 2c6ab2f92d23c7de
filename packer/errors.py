"""Errors that packer reports to its users.

Every problem with user input is an :class:`InputError` that names the file and the field path
(``requests[3].profile``), so the command line can print one clear line and exit 2.
"""

from __future__ import annotations


class PackerError(Exception):
    """Base class of every error packer raises on purpose."""


class InputError(PackerError):
    """Bad user input: malformed JSON, an unknown field, a dangling reference, an impossible value."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.field:
            where.append(self.field)
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def with_file(self, file: str) -> InputError:
        """Returns the same error, now naming ``file``."""
        return InputError(self.message, file=file, field=self.field)
