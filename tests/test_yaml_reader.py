"""Every YAML input is read with bounded work: an alias bomb, a huge file, a deep nest or a NUL byte is one
sentence naming the file (and the place), never memory exhausted, a crash or an "unexpected" error."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from kpi_engine import KPIError, PlanError, load_plan, parse_plan
from kpi_engine.yaml_reader import MAX_BYTES, MAX_DEPTH, MAX_VALUES, YAMLRefused, load_located, read_yaml_text

RULES = Path(__file__).resolve().parents[1] / "rules"


def bomb(levels: int = 10, width: int = 9) -> str:
    """A "billion laughs" document: ``width ** levels`` strings from a few hundred bytes."""
    lines = ['a0: &a0 ["' + '","'.join("x" * width) + '"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands():
    text = bomb()
    assert len(text) < 500
    tracemalloc.start()
    try:
        with pytest.raises(YAMLRefused, match="expands to more than"):
            load_located(text, "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # bytes: the document's nodes, never its 3.4 billion expanded values


def test_an_alias_bomb_in_a_plan_is_a_plan_error_naming_the_file(tmp_path):
    plan = tmp_path / "sales-bonuses.yaml"
    plan.write_text("id: boom\n" + bomb(), encoding="utf-8")
    with pytest.raises(PlanError) as err:
        load_plan(plan)
    assert err.value.message.startswith(f"{plan}:1:1: the plan is refused: the document expands")


def test_aliases_that_share_a_little_are_read_as_written():
    located = load_located("base: &b {rate: 5%, cap: 100}\nrules: [*b, *b]\n")
    assert located.data["rules"] == [{"rate": "5%", "cap": 100}] * 2
    assert located.where(("rules", 1, "cap")) == located.where(("rules", 1))  # where the alias was written


def test_a_file_larger_than_the_cap_is_refused_without_being_read(tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:  # 100 MB that the disk need not hold: a sparse file
        handle.truncate(100 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(YAMLRefused, match=f"at most {MAX_BYTES:,}"):
            read_yaml_text(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    with pytest.raises(PlanError, match="the plan is refused: huge.yaml is 104,857,600 bytes"):
        load_plan(huge)


def test_a_document_nested_too_deep_is_refused():
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "1" + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(YAMLRefused, match=f"more than {MAX_DEPTH} levels"):
        load_located(deep)
    absurd = "a: " + "[" * 50_000 + "]" * 50_000 + "\n"
    with pytest.raises(YAMLRefused):
        load_located(absurd)


def test_a_nul_byte_is_located_where_it_was_written():
    text = (RULES / "sales-commission.yaml").read_text(encoding="utf-8").replace("cap: 60000", "cap: 600\x0000", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "\x00" in row)
    with pytest.raises(PlanError) as err:
        parse_plan(text, "plan.yaml")
    assert err.value.message.startswith(f"plan.yaml:{line}:13: the plan is not valid YAML: a character no YAML")
    assert "U+0000" in err.value.message


def test_a_date_where_a_test_case_expects_a_number_is_a_plan_error_at_its_place():
    text = """id: t
currency: CNY
rounding: {places: 2}
rules:
  - {id: commission, type: tiered_commission, measure: bookings, method: marginal, tiers: [{from: 0, rate: 5%}]}
tests:
  - name: a date where a number belongs
    period: 2026-01
    data: {2026-01: {bookings: {E1: 2026-01-01}}}
    expect: {2026-01: [{rule: commission, person: E1, amount: 0}]}
"""
    with pytest.raises(PlanError) as err:
        parse_plan(text, "t.yaml")
    assert err.value.problems == [
        "t.yaml:9:33: tests.0.data.2026-01.bookings.E1: the date 2026-01-01 is not a number (got 2026-01-01)."
    ]


def test_one_bad_file_does_not_hide_the_others_when_a_folder_is_validated(tmp_path, capsys):
    from kpi_engine.cli import main

    (tmp_path / "boom.yaml").write_text("id: boom\n" + bomb(), encoding="utf-8")
    (tmp_path / "good.yaml").write_text((RULES / "sales-commission.yaml").read_text(encoding="utf-8"))
    with pytest.raises(SystemExit) as exit_:
        main(["rules", "validate", str(tmp_path)])
    printed = capsys.readouterr()
    assert exit_.value.code == 1 and "OK " in printed.out and "good.yaml" in printed.out
    assert "boom.yaml:1:1: the plan is refused" in printed.out + printed.err


YAML_INPUTS = ["plan", "custom metrics", "payroll mapping", "sync mapping", "import mapping"]


def _read_as(reader: str, file: Path) -> object:
    """Read ``file`` as the YAML input named ``reader`` (every reader of a YAML file in the engine)."""
    from kpi_engine.connect.mapping import load_source_mapping
    from kpi_engine.ingest.mapping import load_mapping
    from kpi_engine.ledger.payroll import load_payroll_mapping
    from kpi_engine.metrics.custom import load_custom_metrics

    readers = {
        "plan": lambda: load_plan(file),
        "custom metrics": lambda: load_custom_metrics([file]),
        "payroll mapping": lambda: load_payroll_mapping(file),
        "sync mapping": lambda: load_source_mapping(file),
        "import mapping": lambda: load_mapping(file),
    }
    return readers[reader]()


def _one_sentence(error: KPIError) -> str:
    problems = getattr(error, "problems", None)
    message = problems[0] if problems else error.message
    assert "\n" not in message and "unexpected" not in message.lower() and "Traceback" not in message
    return message


@pytest.mark.parametrize("reader", YAML_INPUTS)
def test_every_yaml_input_refuses_an_alias_bomb_in_one_sentence_naming_it(tmp_path, reader):
    boom = tmp_path / "boom.yaml"
    boom.write_text(bomb(), encoding="utf-8")
    with pytest.raises(KPIError) as refused:
        _read_as(reader, boom)
    message = _one_sentence(refused.value)
    assert "boom.yaml" in message and f"more than {MAX_VALUES:,} values" in message


@pytest.mark.parametrize("reader", YAML_INPUTS)
def test_every_yaml_input_refuses_a_file_over_the_cap_in_one_sentence_naming_it(tmp_path, reader):
    big = tmp_path / "huge.yaml"
    with big.open("wb") as handle:
        handle.truncate(100 * 2**20)  # 100 MB (sparse: written in no time)
    tracemalloc.start()
    try:
        with pytest.raises(KPIError) as refused:
            _read_as(reader, big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, "refused before it is read"
    message = _one_sentence(refused.value)
    assert "huge.yaml" in message and f"{MAX_BYTES:,}" in message


@pytest.mark.parametrize("reader", YAML_INPUTS)
def test_every_yaml_input_refuses_a_file_that_is_not_utf8_in_one_sentence_naming_it(tmp_path, reader):
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("id: prämie\n".encode("latin-1"))
    with pytest.raises(KPIError) as refused:
        _read_as(reader, latin)
    assert "latin1.yaml" in _one_sentence(refused.value)
