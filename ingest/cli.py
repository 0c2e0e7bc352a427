"""`flask ingest ...`: replay a recorded LIVE, write a demo LIVE."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from extensions import db, utcnow
from ingest import demo, sessions
from ingest.replay import replay
from ingest.writer import REPLAY_BATCH_MAX, EventClock, Writer
from runtime import keep_start_up_objects_out_of_full_collections
from services import tiktok

ingest_cli = AppGroup("ingest", help="TikTok LIVE ingest: replay recorded events, write demo LIVEs.")


@ingest_cli.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "handle", required=True, help="The linked TikTok account (@handle) to replay into.")
@click.option("--speed", type=float, default=0.0, show_default=True,
              help="Times real time; 0 replays as fast as possible.")
@click.option("--fresh", is_flag=True, help="Play it as a new LIVE starting now (new message and room ids).")
def replay_command(file: Path, handle: str, speed: float, fresh: bool) -> None:
    """Feed a JSON-lines file of event records through the ingest writer.

    Every clock follows the events (the sweeper, session timeouts, birthdays), so a recorded LIVE
    comes out as it happened. It reports what became of every event, and exits non-zero when any
    event it read could not be applied."""
    keep_start_up_objects_out_of_full_collections()
    account = tiktok.find_account(handle)
    if account is None:
        raise click.ClickException(f"No linked TikTok account @{handle.lstrip('@')}.")
    account_id, account_handle = account.id, account.handle
    db.session.remove()
    app = current_app._get_current_object()
    writer = Writer(app, clock=EventClock(), publish=True, sweep_accounts=lambda: [account_id],
                    batch_max=REPLAY_BATCH_MAX)
    malformed_lines = []
    # The writer greenlet applies batches while the replay reads (and, paced, sleeps).
    writer.start()
    try:
        read = replay(file, account_id, writer.put, speed=speed, now=utcnow, fresh=fresh,
                      backlog=writer.queue.qsize, skipped=lambda: malformed_lines.append(1))
    finally:
        if not writer.stop():
            click.echo(f"The stop timeout ({writer.stop_seconds:g} s) passed with {writer.queue.qsize()} events "
                       "still queued: the writer finished its batch, and the rest is applied now.", err=True)
    writer.drain()
    sessions.sweep([account_id], writer.clock)
    accounted = writer.applied + writer.duplicates + writer.malformed
    click.echo(f"Replayed {read} events into @{account_handle} ({writer.applied} new, {writer.duplicates} "
               f"already applied, {writer.malformed + len(malformed_lines)} malformed, {writer.failed} failed).")
    if accounted != read or writer.failed:
        raise click.ClickException(f"{read - accounted} of {read} events could not be applied.")


@ingest_cli.command("demo-file")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--viewers", "viewer_count", type=int, default=3000, show_default=True)
@click.option("--minutes", type=int, default=60, show_default=True)
@click.option("--seed", type=int, default=5, show_default=True)
def demo_file_command(file: Path, viewer_count: int, minutes: int, seed: int) -> None:
    """Write a generated demo LIVE to FILE."""
    count = demo.write(file, demo.generate(seed=seed, viewers=viewer_count, minutes=minutes))
    click.echo(f"Wrote {count} events to {file}.")
