"""Forms for creating a show and chatting in one."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class ShowForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the show a title."), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    when = RadioField("When", default="now",
                      choices=[SelectChoice("now", "Now (go live when ready)"), SelectChoice("later", "Schedule it")])
    scheduled_for = DateTimeLocalField("Starts at (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    playback_url = URLField(
        "HLS playback URL", description="The .m3u8 address your streaming provider gives you (optional).",
        validators=[Optional(), URL(require_tld=False, message="Enter a full address, like https://…/live.m3u8."),
                    Length(max=500)],
    )
    tiktok_account_id = SelectField(
        "TikTok account", coerce=int, default=0,
        description="The TikTok LIVE you run alongside this show: its viewers' sessions are linked to the show.",
    )
    product_ids = SelectMultipleField(
        "Featured products", coerce=int, option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
        validators=[DataRequired("Feature at least one product.")],
    )

    def validate(self, extra_validators=None) -> bool:  # noqa: ANN001
        valid = super().validate(extra_validators)
        if self.when.data == "later":
            starts = self.scheduled_for.data
            problem = ("Choose when the show starts." if starts is None
                       else "Choose a time in the future." if starts.replace(tzinfo=UTC) <= datetime.now(UTC) else None)
            if problem:
                self.scheduled_for.errors = [*self.scheduled_for.errors, problem]
                valid = False
        return valid

    def starts_at(self) -> datetime | None:
        return self.scheduled_for.data.replace(tzinfo=UTC) if self.when.data == "later" else None


class CommentForm(FlaskForm):
    # Trimming and the 1–500 character rule live in services.live.post_comment.
    comment = StringField("Comment")
