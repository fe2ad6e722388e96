"""KPI and incentive-compensation rules engine: CRM facts in, explained payouts out.

The public API. Plugins and connectors import only from here.
"""

from . import _schema as schema
from ._connector import Checkpoint, Connector, ConnectorContext, Record, Stream, StreamState
from ._connector_auth import BearerToken, HeaderToken, OAuth2Refresh
from ._connector_errors import AuthenticationError, ConnectorConfigurationError, ConnectorError, RateLimited, TransientError
from ._connector_paging import Page, cursor_pages, dig, next_link_pages, offset_pages, page_token_pages
from ._engine import EvaluationRun, Outcome, evaluate, evaluate_plans, get_run, list_runs
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
from ._findings import FINDING, CheckConfig, Effect, Finding, Severity
from ._formula import ConditionText, Formula, FormulaText, compile_condition, compile_formula
from ._http import HttpClient, RetryPolicy, SystemClock, TokenBucket, default_classify, parse_retry_after
from ._importing import ImportSummary, import_file
from ._loading import LoadCounts, upsert_records
from ._money import Money, Ratio, money_text, plain, quantize, to_decimal
from ._periods import Period, parse_period
from ._plan import LoadedPlan, Plan, load_plan, parse_plan
from ._plan_files import load_plan_for
from ._plan_tests import CaseResult, run_plan_tests
from ._mapping import ColumnMapping, load_mapping
from ._metric_sql import Division, Measure, exact_terms, fact_metric, same_period_last_year, seconds_between, shift_context, within, within_days
from ._custom_metrics import CustomMetricError, custom_metrics_from_environment, load_custom_metrics
from ._metric_compute import MetricRow, compute_metric, metric_values
from ._records import ActivityRecord, DealRecord, LeadRecord, PersonRecord, TargetRecord
from ._secrets import (
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
from ._store import Store, default_database_url, open_store
from ._sync import StreamSummary, SyncSummary, parse_cursor, sync
from ._sync_mapping import SourceMapping, StreamMapping, load_source_mapping
from ._trace import LazyTrace
from ._types import Amount, Metric, MetricContext, OrgView, PersonInfo, RuleContext, RuleResult, RuleType, TargetLevels
from ._version import __version__
from .hookspecs import hookimpl
from .plugins import PluginInfo, Registry, get_registry, load_plugins

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
    "evaluate",
    "evaluate_plans",
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
