"""``kpi connectors new`` writes a connector package whose own tests pass as generated."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kpi_engine import ConnectorConfigurationError
from kpi_engine.cli import cli
from kpi_engine.connect.scaffold import scaffold_connector


def test_the_scaffold_writes_a_package_whose_tests_pass(tmp_path):
    result = CliRunner().invoke(cli, ["connectors", "new", "acme-crm", "--path", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "kpi-acme-crm"
    assert {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()} == {
        "README.md",
        "pyproject.toml",
        "kpi_acme_crm/__init__.py",
        "kpi_acme_crm/connector.py",
        "kpi_acme_crm/mapping.yaml",
        "tests/__init__.py",
        "tests/mock_server.py",
        "tests/test_acceptance.py",
        "tests/test_connector.py",
    }
    assert 'acme_crm = "kpi_acme_crm"' in (package / "pyproject.toml").read_text()
    env = {**os.environ, "PYTHONPATH": str(package)}
    env.pop("KPI_TEST_DATABASE_URL", None)  # the generated tests use the plugin's SQLite store
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.parametrize("name", ["Acme", "1crm", "acme crm", "acme--crm", ""])
def test_a_name_that_cannot_name_a_package_is_refused(tmp_path, name):
    with pytest.raises(ConnectorConfigurationError):
        scaffold_connector(name, tmp_path)


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "kpi-acme").mkdir()
    with pytest.raises(ConnectorConfigurationError, match="already exists"):
        scaffold_connector("acme", tmp_path)
