"""Plans: HR's YAML files read with positions, validated whole, and their own test cases run.

``source`` reads a file (exact numbers, the line and column of every key), ``model`` is the plan's
shape (``Plan``, ``LoadedPlan``), ``names`` the names its formulas use, ``checking`` validates a plan
and reports every problem at its file, line and column, ``files`` finds plan files and the version in
force, ``cases`` and ``plan_tests`` run a plan's ``tests:`` without a database.
"""
