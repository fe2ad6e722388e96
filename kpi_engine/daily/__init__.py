"""The daily loop the sources assume (daily dashboard → weekly anomaly review → monthly review): sync the
CRMs, evaluate the open period's alert and PIP plans, refresh the report site, notify; one run at a time.

``lock`` keeps runs from overlapping on either store; ``loop`` is ``run_daily``. See docs/reports.md.
"""

from .lock import daily_lock
from .loop import DailySummary, configured_connectors, run_daily

__all__ = ["DailySummary", "configured_connectors", "daily_lock", "run_daily"]
