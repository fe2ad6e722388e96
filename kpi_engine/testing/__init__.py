"""Test kit for connectors: mock CRM servers, a fake clock, fixtures and the acceptance suite.

- ``MockCRMServer``, ``route``, ``MockRequest``, ``MockResponse``: write a mock of a CRM's API
  that runs on 127.0.0.1 with scriptable ``Faults`` and a ``TokenBook`` of expiring tokens;
- ``FakeClock``: a clock for ``ConnectorContext`` whose ``sleep`` returns at once;
- ``ConnectorAcceptanceSuite`` and ``AcceptanceTarget``: the behaviour every connector must show;
- the pytest plugin (``kpi_engine.testing.pytest_plugin``, loaded automatically once installed)
  provides the ``fake_clock``, ``connector_context``, ``start_mock`` and ``store`` fixtures.
"""

from ._acceptance import (
    AcceptanceTarget,
    ConnectorAcceptanceSuite,
    SimulatedCrash,
    store_snapshot,
)
from ._fakes import FakeClock
from ._mock import (
    FaultRule,
    Faults,
    MockCRMServer,
    MockRequest,
    MockResponse,
    TokenBook,
    route,
    run_mock_server,
)

__all__ = [
    "AcceptanceTarget",
    "ConnectorAcceptanceSuite",
    "FakeClock",
    "FaultRule",
    "Faults",
    "MockCRMServer",
    "MockRequest",
    "MockResponse",
    "SimulatedCrash",
    "TokenBook",
    "route",
    "run_mock_server",
    "store_snapshot",
]
