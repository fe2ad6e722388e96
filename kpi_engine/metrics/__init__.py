"""Metrics: what a metric plugin declares, the SQL it compiles to, values by any grouping, and targets.

``declaration`` holds ``Metric`` and ``MetricContext``; ``measures`` builds metrics from facts
(``fact_metric``: numerators, denominators, windows); ``compute`` reads a metric's values for a
period, per person or grouped; ``rollup`` adds people up to teams; ``custom`` loads metrics HR defines
in YAML; ``targets`` and ``target_changes`` break targets down and keep their history.
"""
