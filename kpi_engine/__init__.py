"""KPI and incentive-compensation rules engine: CRM facts in, explained payouts out.

The public API. Plugins and connectors import only from here.
"""

from ._version import __version__
from .connect.auth import BearerToken, HeaderToken, OAuth2Refresh
from .connect.connector import Checkpoint, Connector, ConnectorContext, Record, Stream, StreamState
from .connect.errors import (
    AuthenticationError,
    ConnectorConfigurationError,
    ConnectorError,
    RateLimited,
    TransientError,
)
from .connect.http import HttpClient, RetryPolicy, SystemClock, TokenBucket, default_classify, parse_retry_after
from .connect.mapping import SourceMapping, StreamMapping, load_source_mapping
from .connect.paging import Page, cursor_pages, dig, next_link_pages, offset_pages, page_token_pages
from .connect.secrets import (
    ConnectorSettings,
    MemoryTokenStore,
    StoreTokenStore,
    TokenStore,
    connector_logger,
    default_token_store,
    redact,
    register_secret,
    secret_field,
)
from .connect.sync import StreamSummary, SyncSummary, parse_cursor, sync
from .engine.contract import (
    Amount,
    Metric,
    MetricContext,
    OrgView,
    PersonInfo,
    RuleContext,
    RuleResult,
    RuleType,
    TargetLevels,
)
from .engine.evaluation import evaluate, evaluate_plans, evaluate_through
from .errors import (
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
from .findings.model import FINDING, CheckConfig, Effect, Finding, Severity
from .formula.formula import ConditionText, Formula, FormulaText, compile_condition, compile_formula
from .hookspecs import hookimpl
from .ingest.importing import ImportSummary, import_file
from .ingest.loading import LoadCounts, upsert_records
from .ingest.mapping import ColumnMapping, load_mapping
from .ingest.records import ActivityRecord, DealRecord, LeadRecord, PersonRecord, TargetRecord
from .metrics.compute import MetricRow, compute_metric, metric_values
from .metrics.custom import CustomMetricError, custom_metrics_from_environment, load_custom_metrics
from .metrics.measures import (
    Division,
    Measure,
    exact_terms,
    fact_metric,
    same_period_last_year,
    seconds_between,
    shift_context,
    within,
    within_days,
)
from .money import Money, Ratio, money_text, plain, quantize, to_decimal
from .periods import Period, earlier_period, parse_period
from .plans.checking import load_plan, parse_plan
from .plans.files import load_plan_for
from .plans.model import LoadedPlan, Plan
from .plans.plan_tests import CaseResult, run_plan_tests
from .registry import PluginInfo, Registry, get_registry, load_plugins
from .store import schema as schema
from .store.database import Store, default_database_url, open_store
from .store.runs import EvaluationRun, Outcome, get_run, list_runs
from .trace import LazyTrace

__all__ = [
    "ActivityRecord",
    "Amount",
    "AuthenticationError",
    "BearerToken",
    "CaseResult",
    "CheckConfig",
    "Checkpoint",
    "ColumnMapping",
    "ConditionText",
    "ConfigurationError",
    "Connector",
    "ConnectorConfigurationError",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSettings",
    "CustomMetricError",
    "DealRecord",
    "Division",
    "Effect",
    "EvaluationError",
    "EvaluationRun",
    "FINDING",
    "Finding",
    "Formula",
    "FormulaError",
    "FormulaText",
    "HeaderToken",
    "HttpClient",
    "ImportRejected",
    "ImportSummary",
    "KPIError",
    "LazyTrace",
    "LeadRecord",
    "LoadCounts",
    "LoadedPlan",
    "Measure",
    "MemoryTokenStore",
    "Metric",
    "MetricContext",
    "MetricRow",
    "Money",
    "OAuth2Refresh",
    "OrgView",
    "Outcome",
    "Page",
    "Period",
    "PeriodError",
    "PersonInfo",
    "PersonRecord",
    "Plan",
    "PlanError",
    "PluginError",
    "PluginInfo",
    "RateLimited",
    "Ratio",
    "Record",
    "Registry",
    "RetryPolicy",
    "RuleContext",
    "RuleResult",
    "RuleType",
    "Severity",
    "SourceMapping",
    "Store",
    "StoreError",
    "StoreTokenStore",
    "Stream",
    "StreamMapping",
    "StreamState",
    "StreamSummary",
    "SyncSummary",
    "SystemClock",
    "TargetLevels",
    "TargetRecord",
    "TokenBucket",
    "TokenStore",
    "TransientError",
    "__version__",
    "compile_condition",
    "compile_formula",
    "compute_metric",
    "connector_logger",
    "cursor_pages",
    "custom_metrics_from_environment",
    "default_classify",
    "default_database_url",
    "default_token_store",
    "dig",
    "earlier_period",
    "evaluate",
    "evaluate_plans",
    "evaluate_through",
    "exact_terms",
    "fact_metric",
    "get_registry",
    "get_run",
    "hookimpl",
    "import_file",
    "list_runs",
    "load_custom_metrics",
    "load_mapping",
    "load_plan",
    "load_plan_for",
    "load_plugins",
    "load_source_mapping",
    "metric_values",
    "money_text",
    "next_link_pages",
    "offset_pages",
    "open_store",
    "page_token_pages",
    "parse_cursor",
    "parse_period",
    "parse_plan",
    "parse_retry_after",
    "plain",
    "quantize",
    "redact",
    "register_secret",
    "run_plan_tests",
    "same_period_last_year",
    "schema",
    "seconds_between",
    "secret_field",
    "shift_context",
    "sync",
    "to_decimal",
    "upsert_records",
    "within",
    "within_days",
]
