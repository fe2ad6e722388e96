"""The engine: a plan's rules run over the facts of a period, and the run saved with a trace per line.

``contract`` is what rule types implement and receive (``RuleType``, ``RuleContext``,
``RuleResult``); ``organisation`` who reports to whom on a day; ``facts`` what rules read from the
database; ``runner`` the rules in dependency order over any facts (the database's or a plan test's);
``effects`` what findings do to the payouts they affect; ``evaluation`` the whole evaluation in one
transaction (``evaluate``, ``evaluate_plans``, ``evaluate_through``); ``explain`` the reasons of a
person's lines; ``collector`` the garbage-collector pause while rules run.
"""
