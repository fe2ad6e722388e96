"""The ``kpi`` command: a thin layer over the public API, one module per command group.

``app`` holds the group and ``main`` (errors become one sentence and a hint); ``demo``, ``data``
(import), ``evaluation`` (evaluate, outcomes, runs), ``rules`` (validate, test, explain), ``formula``
(rules try), ``metrics`` (metrics, targets), ``connectors`` (connectors, sync), ``findings`` and
``plugins`` hold the commands; ``summaries`` prints runs; ``common`` holds the settings and progress bar.
"""

from .app import cli, main

__all__ = ["cli", "main"]
