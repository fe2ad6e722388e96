"""``kpi connectors new NAME``: a connector package with a mock server and the acceptance tests.

The templates live in ``kpi_engine/connect/templates/connector``; ``$name``, ``$package``, ``$cls``,
``$title``, ``$env`` and ``$dist`` are filled in (``string.Template``). The generated tests pass
as generated, so an integrator starts from green and changes one thing at a time.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from string import Template

from .errors import ConnectorConfigurationError

__all__ = ["scaffold_connector"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def _names(name: str) -> dict[str, str]:
    parts = re.split(r"[-_]", name)
    return {
        "name": name.replace("-", "_"),
        "package": "kpi_" + "_".join(parts),
        "dist": "kpi-" + "-".join(parts),
        "cls": "".join(p.capitalize() for p in parts),
        "title": " ".join(p.capitalize() for p in parts),
        "env": "_".join(parts).upper(),
    }


def scaffold_connector(name: str, folder: Path) -> Path:
    """Write the package ``kpi-<name>/`` under ``folder`` and return its path."""
    if not _NAME.fullmatch(name):
        raise ConnectorConfigurationError(
            f"{name!r} cannot name a connector.",
            hint="use lower-case letters, digits and dashes, starting with a letter (e.g. acme-crm)",
        )
    values = _names(name)
    target = Path(folder) / values["dist"]
    if target.exists():
        raise ConnectorConfigurationError(
            f"{target} already exists; nothing was written.", hint="choose another --path or remove it"
        )
    root = files("kpi_engine.connect").joinpath("templates", "connector")
    written: list[Path] = []

    def copy(node: object, relative: Path) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):  # type: ignore[attr-defined]
            if child.is_dir():
                copy(child, relative / (values["package"] if child.name == "package" else child.name))
            elif child.name.endswith(".tmpl"):
                out = target / relative / child.name.removesuffix(".tmpl")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(Template(child.read_text(encoding="utf-8")).substitute(values), encoding="utf-8")
                written.append(out)

    copy(root, Path("."))
    return target
