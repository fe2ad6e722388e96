"""One error hierarchy for the whole engine; every error carries a sentence a user can act on.

KPIError
 ├── ConfigurationError        a setting, option or environment variable is wrong
 ├── PlanError                 a plan file does not validate (file, line, column, hint)
 ├── PeriodError               a period label cannot be understood
 ├── ImportRejected            a file to import has bad rows; nothing was imported
 ├── PluginError               a plugin failed to load or clashes with another
 ├── StoreError                the database cannot be opened or is at the wrong schema
 └── EvaluationError           an evaluation cannot be carried out (closed period, missing data)
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "EvaluationError",
    "ImportRejected",
    "KPIError",
    "PeriodError",
    "PlanError",
    "PluginError",
    "StoreError",
]


class KPIError(Exception):
    """Root of the engine's errors: ``message`` is one sentence, ``hint`` says what to do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} Hint: {self.hint}"


class ConfigurationError(KPIError):
    """A setting, option or environment variable is wrong."""


class PlanError(KPIError):
    """A plan file does not validate; ``problems`` lists every problem found."""

    def __init__(self, message: str, *, hint: str | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or [message]


class PeriodError(KPIError):
    """A period label cannot be understood."""


class ImportRejected(KPIError):
    """A file to import has bad rows; ``problems`` lists them and nothing was written."""

    def __init__(self, message: str, *, hint: str | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or [message]


class PluginError(KPIError):
    """A plugin failed to load or clashes with another."""


class StoreError(KPIError):
    """The database cannot be opened, migrated or written."""


class EvaluationError(KPIError):
    """An evaluation cannot be carried out."""
