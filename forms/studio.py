"""Forms of the streamer's studio: linking an account, its settings, the viewer profile editor and
the VIP tier editor."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import BooleanField, ColorField, Field, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import HiddenInput

from models import MAX_INT
from services.studio import clean_tags

#: TikTok's text-to-speech voices offered for a viewer ("" = the TTS default).
TTS_VOICES = (
    ("", "Default voice"),
    ("en_us_001", "English (US), female"),
    ("en_us_002", "English (US), female 2"),
    ("en_us_006", "English (US), male"),
    ("en_us_007", "English (US), male 2"),
    ("en_uk_001", "English (UK), male"),
    ("en_au_001", "English (AU), female"),
    ("de_001", "German, female"),
    ("de_002", "German, male"),
    ("fr_001", "French, male"),
    ("es_002", "Spanish, male"),
    ("jp_001", "Japanese, female"),
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
MAX_TAGS = 20


class WholeNumberField(IntegerField):
    """An IntegerField whose "not a number" message says what to enter."""

    def __init__(self, label: str, invalid_message: str, **kwargs) -> None:  # noqa: ANN003
        super().__init__(label, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.invalid_message) from None
        if self.data is not None and not -MAX_INT <= self.data <= MAX_INT:
            self.data = None
            raise ValueError(f"Enter a number up to {MAX_INT:,}.")


class LinkAccountForm(FlaskForm):
    handle = StringField("TikTok handle", validators=[DataRequired("Enter the TikTok handle to link.")])
    # The picker is searchable and starts on the browser's own zone (app.js).
    time_zone = SelectField("Your time zone", default="UTC",
                            description="Birthdays and the activity heatmap follow this zone.",
                            render_kw={"data-tz-picker": "", "data-tz-browser-default": ""})


class SettingsForm(FlaskForm):
    time_zone = SelectField("Time zone", render_kw={"data-tz-picker": ""})
    auto_vip = BooleanField("Promote viewers to VIP tiers automatically")
    birthday_notices = BooleanField("Tell me when a viewer with a birthday today shows up")
    session_timeout = WholeNumberField(
        "Session timeout (seconds)", "Enter a number of seconds.",
        validators=[InputRequired("Enter a number of seconds."),
                    NumberRange(30, 3600, "The session timeout is between 30 and 3600 seconds.")])
    big_gift_threshold = WholeNumberField(
        "Big gift from (coins)", "Enter a number of coins.",
        validators=[InputRequired("Enter a number of coins."),
                    NumberRange(0, None, "The big-gift threshold cannot be negative.")])


class TagsField(Field):
    """Tags as chips: every chip posts one `tags` value; commas in a value split it further."""

    widget = HiddenInput()

    def _value(self) -> str:
        return ", ".join(self.data or [])

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = clean_tags(valuelist)


class ProfileForm(FlaskForm):
    # Not validated against the list: a voice stored earlier stays selectable.
    tts_voice = SelectField("TTS voice", choices=[SelectChoice(value, label) for value, label in TTS_VOICES],
                            default="", validate_choice=False, validators=[Length(max=60)])
    discord_username = StringField(
        "Discord name",
        validators=[Optional(), Length(max=37),
                    Regexp(r"^[A-Za-z0-9_.]{2,32}(#\d{4})?$",
                           message="A Discord name has 2–32 letters, digits, dots or underscores.")])
    birthday_month = SelectField("Birthday month", coerce=int, default=0,
                                 choices=[SelectChoice(0, "—"),
                                          *[SelectChoice(number, name) for number, name in enumerate(MONTHS, 1)]])
    birthday_day = WholeNumberField("Birthday day", "Enter the day as a number.",
                                    validators=[Optional(), NumberRange(1, 31, "A day is 1 to 31.")])
    birthday_year = WholeNumberField("Birth year (optional)", "Enter the year as a number, or leave it empty.",
                                     validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Length(max=5000, message="Notes have at most 5,000 characters.")])
    tags = TagsField("Tags")
    new_tags = StringField("Add tags", description="Press Enter (or type commas) to add a tag.",
                           validators=[Length(max=400)])
    is_favorite = BooleanField("Favorite")
    is_moderator = BooleanField("Moderator")
    is_blocked = BooleanField("Blocked (left out of leaderboards and notices)")
    vip = SelectField("VIP tier", default="auto", validate_choice=True)

    def set_tier_choices(self, tiers: list, current_auto_tier: str | None) -> None:  # noqa: ANN001
        automatic = f"Automatic (now: {current_auto_tier})" if current_auto_tier else "Automatic (not VIP yet)"
        self.vip.choices = [SelectChoice("auto", automatic), SelectChoice("none", "No VIP (locked)"),
                            *[SelectChoice(str(tier.id), f"{tier.name} (locked)") for tier in tiers]]

    def validate(self, extra_validators=None) -> bool:  # noqa: ANN001
        valid = super().validate(extra_validators)
        self.tags.data = clean_tags([*(self.tags.data or []), self.new_tags.data or ""])
        # Checked after "Add tags" is merged in, so a typed tag is held to the same rules as a chip.
        if len(self.tags.data) > MAX_TAGS:
            self.tags.errors = [*self.tags.errors, f"Keep it to {MAX_TAGS} tags."]
            valid = False
        for tag in self.tags.data:
            if len(tag) > 30:
                self.tags.errors = [*self.tags.errors, f"“{tag[:30]}…” is too long: a tag has at most 30 characters."]
                valid = False
        month, day, year = self.birthday_month.data or 0, self.birthday_day.data, self.birthday_year.data
        if (month and day is None) or (day is not None and not month):
            target = self.birthday_day if month else self.birthday_month
            target.errors = [*target.errors, "Give both the month and the day, or neither."]
            valid = False
        if year is not None and not 1900 <= year <= datetime.now(UTC).year:
            self.birthday_year.errors = [*self.birthday_year.errors,
                                         f"Enter a year between 1900 and {datetime.now(UTC).year}, or leave it empty."]
            valid = False
        if year is not None and not month:
            self.birthday_month.errors = [*self.birthday_month.errors, "A birth year needs the month and day too."]
            valid = False
        return valid

    def birthday(self) -> tuple[int, int, int | None] | None:
        if not self.birthday_month.data or self.birthday_day.data is None:
            return None
        return self.birthday_month.data, self.birthday_day.data, self.birthday_year.data


class TierForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the tier a name."), Length(max=40)])
    min_coins = WholeNumberField("Minimum coins", "Enter a number of coins.", default=0,
                             validators=[InputRequired("Enter a number of coins."),
                                         NumberRange(0, None, "Cannot be negative.")])
    min_watch_hours = WholeNumberField("Minimum watch hours", "Enter a number of hours.", default=0,
                                   validators=[InputRequired("Enter a number of hours."),
                                               NumberRange(0, 100_000, "0 to 100,000 hours.")])
    min_visits = WholeNumberField("Minimum visits", "Enter a number of visits.", default=0,
                              validators=[InputRequired("Enter a number of visits."),
                                          NumberRange(0, None, "Cannot be negative.")])
    colour = ColorField("Colour", default="#888888",
                         validators=[Regexp(r"^#[0-9a-fA-F]{6}$", message="A colour like #ffd700.")])
    benefits = TextAreaField("Benefits", validators=[Length(max=500)])


class LinkCodeForm(FlaskForm):
    """A shopper asks for a one-time code to prove their TikTok handle in a streamer's LIVE."""

    account = StringField("The streamer's TikTok handle",
                          validators=[DataRequired("Enter the streamer's TikTok handle.")])
    handle = StringField("Your TikTok handle", description="Only a comment from this handle can use the code.",
                         validators=[DataRequired("Enter your own TikTok handle.")])
