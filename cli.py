"""Flask CLI commands: `flask create-admin`, `flask seed-demo`."""

from __future__ import annotations

import click
from flask import Flask

from services import accounts
from services.demo import seed_demo
from services.errors import FieldError


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--username", prompt=True)
@click.option("--display-name", default=None, help="Defaults to the username.")
@click.password_option()
def create_admin_command(email: str, username: str, display_name: str | None, password: str) -> None:
    """Create an administrator account."""
    if len(password) < 8:
        raise click.BadParameter("A password has at least 8 characters.", param_hint="password")
    try:
        user = accounts.register_user(email, username, display_name or username, password, is_admin=True)
    except FieldError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Administrator {user.username} <{user.email}> created.")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo accounts and data (idempotent) and print the logins."""
    click.echo("Demo logins:")
    for account in seed_demo():
        click.echo(
            f"  {account.role:<9} {account.email:<32} username {account.username:<14} password {account.password}"
        )


@click.command("demo-video")
def demo_video_command() -> None:
    """Encode the demo's video once (the live show's looping clip, the replay's recording)."""
    from pathlib import Path

    from flask import current_app

    from services.demo import prepare_demo_video
    from services.media_server import missing_tools

    listing = prepare_demo_video(Path(current_app.instance_path))
    if listing is None:
        missing = missing_tools()
        click.echo("Demo video is off" + (f": {', '.join(missing)} not installed." if missing else "."))
    else:
        click.echo(f"Demo video ready ({listing}).")


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_video_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(seed_demo_command)
