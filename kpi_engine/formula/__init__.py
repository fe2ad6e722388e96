"""The plan formula language: HR's text compiled once into closures over ``Decimal``, evaluated many times.

``lexer`` turns text into tokens, ``parser`` tokens into a tree (with caps on length, depth and
size), ``compiler`` the tree into nested closures with types checked; ``formula`` is the API the rest
of the engine uses (``Formula``, ``compile_formula``, ``compile_condition`` and the pydantic field
types ``FormulaText`` and ``ConditionText``). Depends on ``kpi_engine.errors`` only. The grammar is
in docs/formulas.md.
"""
