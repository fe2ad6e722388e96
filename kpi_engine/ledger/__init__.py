"""The pay cycle: from a calculated period to payment, with a ledger that pays every amount exactly once.

``lifecycle`` moves a plan's period from calculated to approved (four eyes) to closed, and reopens
it with a reason; ``posting`` turns a closing run into ledger entries, each under a unique key;
``prior_periods`` compares closed periods touched by a later fact with what they paid;
``adjustments`` holds the corrections and one-off amounts people decide; ``entries`` reads the
ledger and its balances; ``payroll`` exports a paid period for payroll. The audit trail of every
step is ``kpi_engine.store.audit``. See docs/pay-cycle.md.
"""
