"""Running ``kpi`` as a user would: in an empty folder with its own database, exit code and output kept."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kpi_engine.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def kpi(tmp_path, monkeypatch, capsys):
    """Run ``kpi ARGS`` in an empty folder with its own database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KPI_USER", raising=False)

    def run(*args: str) -> Result:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        captured = capsys.readouterr()
        return Result(exit_.value.code or 0, captured.out, captured.err)

    return run


def one_sentence_error(result: Result) -> str:
    """The error line of a failed command: one sentence, no traceback, a non-zero exit."""
    assert result.code != 0
    assert "Traceback" not in result.err + result.out
    first = result.err.splitlines()[0]
    assert first.startswith("Error: ")
    return first
