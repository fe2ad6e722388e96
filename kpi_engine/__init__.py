"""KPI and incentive-compensation rules engine: CRM facts in, explained payouts out.

The public API. Plugins and connectors import only from here.
"""

from . import _schema as schema
from ._engine import EvaluationRun, Outcome, evaluate, get_run, list_runs
from ._errors import (
    ConfigurationError,
    EvaluationError,
    FormulaError,
    ImportRejected,
    KPIError,
    PeriodError,
    PlanError,
    PluginError,
    StoreError,
)
from ._formula import ConditionText, Formula, FormulaText, compile_condition, compile_formula
from ._importing import ImportSummary, import_file
from ._loading import LoadCounts, upsert_records
from ._money import Money, Ratio, money_text, plain, quantize, to_decimal
from ._periods import Period, parse_period
from ._plan import LoadedPlan, Plan, load_plan, parse_plan
from ._mapping import ColumnMapping, load_mapping
from ._records import ActivityRecord, DealRecord, LeadRecord, PersonRecord, TargetRecord
from ._store import Store, default_database_url, open_store
from ._types import Amount, Metric, MetricContext, OrgView, PersonInfo, RuleContext, RuleResult, RuleType, TargetLevels
from ._version import __version__
from .hookspecs import hookimpl
from .plugins import PluginInfo, Registry, get_registry, load_plugins

__all__ = [
    "ActivityRecord",
    "Amount",
    "ColumnMapping",
    "ConditionText",
    "ConfigurationError",
    "DealRecord",
    "EvaluationError",
    "EvaluationRun",
    "Formula",
    "FormulaError",
    "FormulaText",
    "ImportRejected",
    "ImportSummary",
    "KPIError",
    "LeadRecord",
    "LoadCounts",
    "LoadedPlan",
    "Metric",
    "MetricContext",
    "Money",
    "OrgView",
    "Outcome",
    "Period",
    "PeriodError",
    "PersonInfo",
    "PersonRecord",
    "Plan",
    "PlanError",
    "PluginError",
    "PluginInfo",
    "Ratio",
    "Registry",
    "RuleContext",
    "RuleResult",
    "RuleType",
    "Store",
    "StoreError",
    "TargetLevels",
    "TargetRecord",
    "__version__",
    "compile_condition",
    "compile_formula",
    "default_database_url",
    "evaluate",
    "get_registry",
    "get_run",
    "hookimpl",
    "import_file",
    "list_runs",
    "load_mapping",
    "load_plan",
    "load_plugins",
    "money_text",
    "open_store",
    "parse_period",
    "parse_plan",
    "plain",
    "quantize",
    "schema",
    "to_decimal",
    "upsert_records",
]
