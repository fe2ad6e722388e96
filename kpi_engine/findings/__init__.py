"""Findings of the anti-gaming checks: what a check found, about whom, on which records, and HR's review.

``model`` is what a check returns (``Finding``, ``CheckConfig``); ``store`` lists saved findings and
records a review (release or uphold). What a finding does to payouts is the engine's
(``kpi_engine.engine.effects``).
"""
