"""Reports people read: a static site per period (company, leaderboard, teams, statements, HR) and statements
as HTML or PDF.

``build_site`` writes the site; ``statements_for`` builds statements whose totals are the ledger's;
``write_statement`` writes one as a standalone HTML page or an A4 PDF. The pages are Jinja2 templates
(``templates/``) with charts drawn as inline SVG (``charts``). See docs/reports.md.
"""

from .i18n import LANGUAGES, Locale, locale_for
from .period_data import PeriodData, load_period_data
from .site import SiteSummary, build_site
from .statement import Statement, StatementLine
from .statements import statements_for, write_statement

__all__ = [
    "LANGUAGES",
    "Locale",
    "PeriodData",
    "SiteSummary",
    "Statement",
    "StatementLine",
    "build_site",
    "load_period_data",
    "locale_for",
    "statements_for",
    "write_statement",
]
