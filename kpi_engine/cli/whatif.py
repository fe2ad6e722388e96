"""``kpi whatif``: a draft plan over past periods, in memory, against what the plan in force paid."""

from __future__ import annotations

from typing import Any

import click

from ..money import money_text
from ..render import render
from .common import Settings, pass_settings, progress_bar

__all__ = ["COMMANDS"]


@click.command("whatif")
@click.option("--plan", "draft_path", required=True, metavar="FILE", help="The draft plan file.")
@click.option("--periods", required=True, metavar="FIRST..LAST", help="Periods to replay, e.g. 2026-01..2026-11.")
@click.option(
    "--against", metavar="PLAN", help="The plan to compare with (default: the plan in force with the draft's id)."
)
@click.option("--top", default=5, show_default=True, type=click.IntRange(min=0), help="Winners and losers shown.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@pass_settings
def whatif_command(settings: Settings, draft_path: str, periods: str, against: str | None, top: int, fmt: str) -> None:
    """What a draft plan would have paid, per person and in total; nothing is saved anywhere."""
    from ..engine.whatif import periods_between, whatif
    from ..plans.checking import load_plan

    draft = load_plan(draft_path)
    span = periods_between(periods, draft.plan.period)
    with progress_bar(f"What-if {draft.id} over {len(span)} period(s)"):
        result = whatif(settings.store(), draft, span, against=against)
    rows: list[dict[str, Any]] = [
        {
            "person": line.person_id,
            "name": line.name,
            "current": line.current,
            "draft": line.draft,
            "difference": line.difference,
            "currency": result.currency,
        }
        for line in sorted(result.lines, key=lambda x: (-x.difference, x.person_id))
    ]
    if fmt != "table":
        shown = [{**r, **{k: money_text(r[k]) for k in ("current", "draft", "difference")}} for r in rows]
        click.echo(render(shown, ["person", "name", "current", "draft", "difference", "currency"], fmt))
        return
    click.echo(f"Draft {result.draft} against {result.against}, {result.periods[0]}..{result.periods[-1]}:")
    click.echo(
        render(rows, ["person", "name", "current", "draft", "difference"], numeric=("current", "draft", "difference"))
    )
    difference = result.draft_total - result.current_total
    click.echo(
        f"\nTotal: {money_text(result.current_total)} paid, {money_text(result.draft_total)} with the draft "
        f"({money_text(difference)} {result.currency})."
    )
    for title, lines in (("Biggest winners", result.winners(top)), ("Biggest losers", result.losers(top))):
        if lines:
            names = "; ".join(f"{x.person_id} {x.name} {money_text(x.difference)}" for x in lines)
            click.echo(f"{title}: {names}.")
    computed = [p for p, how in result.current_from.items() if how == "computed"]
    if computed:
        click.echo(f"Not evaluated for real, so computed with the plan in force: {', '.join(computed)}.")
    click.echo("Nothing was saved: kpi outcomes, kpi period and the ledger are unchanged.")


COMMANDS: list[click.Command] = [whatif_command]
