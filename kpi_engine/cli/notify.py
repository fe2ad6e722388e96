"""``kpi notify``: tell the configured channels what is new, each event once."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import NotificationError
from ..render import FORMATS, render
from .common import Settings, pass_settings

__all__ = ["COMMANDS", "echo_notify_summary"]


def echo_notify_summary(summary: object, fmt: str = "table") -> None:
    """One row per channel: new events, sent, messages, still pending, given up."""
    from ..notify import NotifySummary

    assert isinstance(summary, NotifySummary)
    rows = [
        {
            "channel": c.channel,
            "new": c.queued,
            "sent": c.sent,
            "messages": c.messages,
            "pending": c.pending,
            "failed": c.failed,
        }
        for c in summary.channels
    ]
    numeric = ("new", "sent", "messages", "pending", "failed")
    click.echo(render(rows, ["channel", *numeric], fmt, numeric=numeric))
    for channel in summary.channels:
        for error in channel.errors:
            click.echo(f"{channel.channel}: {error}", err=True)


@click.command("notify")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Channels file (default: $KPI_NOTIFY_CONFIG, else ./notify.yaml).",
)
@click.option("--since", metavar="P", help="Events of periods from this one on (default: the month before the newest).")
@click.option("--digest/--no-digest", default=None, help="Send managers' weekly digests (default: on Mondays).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def notify_command(
    settings: Settings, config_path: Path | None, since: str | None, digest: bool | None, fmt: str
) -> None:
    """Send new PIP recommendations, alerts that start or stop firing, findings and periods awaiting approval
    to DingTalk, WeCom, Feishu, Slack-compatible webhooks and e-mail: each event once per channel."""
    from ..notify import load_notify_config, notify
    from ..periods import parse_period

    config = load_notify_config(config_path)
    summary = notify(settings.store(), config, since=parse_period(since) if since else None, digest=digest)
    echo_notify_summary(summary, fmt)
    troubled = [c.channel for c in summary.channels if c.failed or c.errors]
    if troubled:
        raise NotificationError(
            f"{len(troubled)} channel(s) did not get every message: {', '.join(troubled)}.",
            hint="pending messages are sent by the next run; failed ones need their channel's settings fixed",
        )


COMMANDS: list[click.Command] = [notify_command]
