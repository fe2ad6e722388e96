"""KPI and incentive-compensation rules engine (public API)."""
