"""``kpi findings`` (what the anti-gaming checks found) and ``kpi findings review`` (HR's decision)."""

from __future__ import annotations

import click

from ..render import FORMATS, render
from ..store.database import Store
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli

COLUMNS = ["id", "check", "category", "person", "period", "severity", "effect", "explanation", "evidence", "review"]


@click.group(invoke_without_command=True)
@click.option(
    "--run", "run_id", metavar="ID", help="Findings of this run (default: the saved run of every plan and period)."
)
@click.option("--plan", "plan_id", metavar="ID", help="Only this plan's findings.")
@click.option("--period", metavar="P", help="Only this period (e.g. 2026-05).")
@click.option("--person", metavar="ID", help="Only this person's findings.")
@click.option("--check", metavar="NAME", help="Only this check (its rule type, or its rule id in the plan).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def findings(
    ctx: click.Context,
    run_id: str | None,
    plan_id: str | None,
    period: str | None,
    person: str | None,
    check: str | None,
    fmt: str,
) -> None:
    """List the anti-gaming checks' findings: recommendations for human review, with the records behind them."""
    if ctx.invoked_subcommand is not None:
        return
    from ..findings.store import list_findings

    settings = ctx.find_object(Settings)
    assert settings is not None
    found = list_findings(
        settings.store(), run_id=run_id, plan_id=plan_id, period=period, person_id=person, check=check
    )
    if fmt == "json":
        click.echo(render([f.as_dict() for f in found], [], "json"))
        return
    rows = [{**f.as_dict(), "evidence": f.evidence_text(), "review": f.review or "pending"} for f in found]
    if fmt == "csv":
        click.echo(render(rows, ["plan", "run", *COLUMNS, "review_note"], "csv"))
        return
    if not rows:
        click.echo(
            "No findings."
            + (
                ""
                if run_id or plan_id or period or person or check
                else " Evaluate a plan whose rules include a check first."
            )
        )
        return
    for row in rows:
        row["explanation"] = row["explanation"][:100] + ("…" if len(row["explanation"]) > 100 else "")
        row["evidence"] = row["evidence"][:60] + ("…" if len(row["evidence"]) > 60 else "")
    click.echo(render(rows, COLUMNS))
    click.echo(
        f"\n{len(rows)} finding{'s' if len(rows) != 1 else ''}: recommendations for review, not verdicts. "
        "Every record id: kpi findings --format json; a decision: kpi findings review ID --release|--uphold --note TEXT"
    )


@findings.command("review")
@click.argument("finding_id")
@click.option(
    "--release",
    "decision",
    flag_value="release",
    help="Nothing wrong: a held payout is paid in the first period after the hold that is not closed.",
)
@click.option("--uphold", "decision", flag_value="uphold", help="The finding stands: a held payout is never paid.")
@click.option("--note", required=True, help="Why (recorded with the decision).")
@click.option("--by", "reviewed_by", metavar="NAME", help="Who decides (default: the user running the command).")
@pass_settings
def review(settings: Settings, finding_id: str, decision: str | None, note: str, reviewed_by: str | None) -> None:
    """Record HR's decision on a finding, once: release or uphold, with a note, who and when."""
    from ..errors import ConfigurationError
    from ..findings.store import review_finding

    if decision is None:
        raise ConfigurationError("say what the review decides: --release or --uphold.")
    finding = review_finding(settings.store(), finding_id, decision, note, reviewed_by or settings.actor())
    what = {"release": "released", "uphold": "upheld"}[decision]
    effect = ""
    if finding.effect == "hold":
        effect = (
            " A held payout is paid in the first period after the hold that is not closed."
            if decision == "release"
            else " A held payout stays unpaid."
        )
    click.echo(f"Finding {finding.id} ({finding.check}, {finding.person_id}, {finding.period}) {what}.{effect}")


COMMANDS.append(findings)


# --- the demo's summary ------------------------------------------------------------------


def findings_by_check(store: Store) -> str:
    """One line: how many findings each check raised over every saved run."""
    from ..findings.store import list_findings

    counts: dict[str, int] = {}
    for finding in list_findings(store):
        counts[finding.check] = counts.get(finding.check, 0) + 1
    if not counts:
        return "No findings."
    return "Findings by check (all months): " + ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) + "."
