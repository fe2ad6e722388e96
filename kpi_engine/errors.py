"""One error hierarchy for the whole engine; every error carries a sentence a user can act on.

KPIError
 ├── ConfigurationError        a setting, option or environment variable is wrong
 ├── PlanError                 a plan file does not validate (file, line, column, hint)
 ├── FormulaError              a formula cannot be compiled or evaluated (position, caret)
 ├── PeriodError               a period label cannot be understood
 ├── ImportRejected            a file to import has bad rows; nothing was imported
 ├── PluginError               a plugin failed to load or clashes with another
 ├── StoreError                the database cannot be opened or is at the wrong schema
 ├── EvaluationError           an evaluation cannot be carried out (closed period, missing data)
 │    └── PeriodsNotEvaluated  a rule replays earlier periods of its plan, and some were never evaluated
 ├── PayCycleError             a step of the pay cycle is not allowed now (four eyes, not approved, paid)
 ├── RunInProgress             another ``kpi daily`` holds the lock; this run did nothing
 └── NotificationError         a message could not be delivered to a channel
      └── DeliveryFailed        the channel refused or did not answer (``retryable``: trying again may help)

ConfigProblems (a ValueError, what pydantic expects of a validator) carries every problem a rule type's
settings have at once, each at the key it is about; the plan checker reports each at its line and column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .periods import Period

__all__ = [
    "ConfigProblems",
    "ConfigurationError",
    "DeliveryFailed",
    "EvaluationError",
    "FormulaError",
    "ImportRejected",
    "KPIError",
    "NotificationError",
    "PeriodError",
    "PayCycleError",
    "PeriodsNotEvaluated",
    "PlanError",
    "PluginError",
    "RunInProgress",
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


class FormulaError(KPIError):
    """A formula cannot be compiled or evaluated; ``position`` and ``length`` mark the offending span of ``text``."""

    def __init__(self, reason: str, *, text: str, position: int, length: int = 1, hint: str | None = None) -> None:
        self.reason, self.text = reason, text
        self.position, self.length = max(0, min(position, len(text))), max(1, length)
        shown = text if len(text) <= 60 else text[:57] + "..."
        super().__init__(f"{reason} at {self.location} of the formula {shown!r}", hint=hint)

    @property
    def location(self) -> str:
        """``column 7`` (1-based), or ``line 2, column 3`` when the formula spans several lines."""
        line = self.text.count("\n", 0, self.position)
        column = self.position - (self.text.rfind("\n", 0, self.position) + 1) + 1
        return f"line {line + 1}, column {column}" if "\n" in self.text else f"column {column}"

    def caret(self) -> str:
        """The formula's line (at most 72 characters around the fault) and a caret line under the offending span."""
        start = self.text.rfind("\n", 0, self.position) + 1
        end = self.text.find("\n", self.position)
        size = (len(self.text) if end < 0 else end) - start
        at = self.position - start
        left = max(0, min(at - 30, size - 72))
        window = self.text[start + left : start + min(size, left + 72)]
        shown = (
            ("..." if left else "")
            + "".join(c if c.isprintable() else " " for c in window)
            + ("..." if left + 72 < size else "")
        )
        offset = at - left + (3 if left else 0)
        width = max(1, min(self.length, size - at, 72 - (at - left)))
        return f"{shown}\n{' ' * offset}{'^' * width}"


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


class PayCycleError(KPIError):
    """A step of the pay cycle is not allowed now: approving one's own evaluation, closing what is not
    approved, reopening what was paid, posting from a run that the ledger has moved past."""


class ConfigProblems(ValueError):
    """Every problem of a rule's settings at once, for a config model's validator to raise.

    ``problems`` holds ``(key path, sentence)`` pairs; the path is relative to the model that raised it
    (``("tiers", 1, "from")``, or ``()`` for the settings as a whole). The plan checker reports each at its
    line and column, so a validator never stops at its first finding::

        problems = []
        if self.cap is not None and self.cap < 0:
            problems.append((("cap",), f"cap cannot be negative ({self.cap})"))
        ...
        if problems:
            raise ConfigProblems(problems, settings=self)
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]], *, settings: object = None) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = list(problems)
        self.settings = settings  # the model as validated so far (``self``): the checker still checks its formulas


class PeriodsNotEvaluated(EvaluationError):
    """A rule needs its plan's saved outcomes of ``needed``; the periods from ``first_missing`` on were never evaluated.

    ``evaluate_through`` answers it by evaluating them in order; anyone else shows the sentence.
    """

    def __init__(self, *, plan_id: str, rule: str, needed: Period, first_missing: Period) -> None:
        super().__init__(
            f"rule {rule!r} of plan {plan_id!r} needs its outcomes of {needed.label}, "
            f"and {first_missing.label} has not been evaluated.",
            hint=(
                "evaluate the periods in order, starting with: "
                f"kpi evaluate --plan {plan_id} --period {first_missing.label}"
            ),
        )
        self.plan_id = plan_id
        self.rule = rule
        self.needed = needed
        self.first_missing = first_missing


class NotificationError(KPIError):
    """A message could not be delivered to a channel."""


class DeliveryFailed(NotificationError):
    """The channel refused the message or did not answer; ``retryable`` says whether trying again may help,
    ``retry_after`` how many seconds the channel asked to wait (``None``: not said)."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, hint: str | None = None
    ) -> None:  # float ok: seconds
        super().__init__(message, hint=hint)
        self.retryable = retryable
        self.retry_after = retry_after


class RunInProgress(KPIError):
    """Another run of the daily loop holds its lock; this one did nothing."""
