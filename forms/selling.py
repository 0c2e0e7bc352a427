"""Forms of the selling formats: the seller's controls and the audience's bids and claims."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from models import MAX_ID
from services.money import parse_money

#: An id typed into a form is range-checked like one in a URL, so it never reaches a query too big.
VALID_ID = NumberRange(1, MAX_ID, "There is no such item.")


class MoneyField(StringField):
    """An amount typed like 12.50, available as `cents` once validated."""

    cents: int | None = None

    def pre_validate(self, form: FlaskForm) -> None:
        try:
            self.cents = parse_money(self.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None


class FlashSaleForm(FlaskForm):
    product_id = IntegerField("Product", validators=[InputRequired("Choose a product."), VALID_ID])
    price = MoneyField("Sale price", validators=[DataRequired("Enter the sale price, like 9.99.")])
    units = IntegerField("Units", validators=[InputRequired(), NumberRange(1, 10_000, "Sell 1 to 10,000 units.")])
    duration_seconds = IntegerField("Seconds", validators=[
        InputRequired(), NumberRange(10, 1800, "A flash sale lasts from 10 seconds to 30 minutes.")])
    per_buyer_limit = IntegerField("Limit per buyer", validators=[InputRequired(), NumberRange(1, 10_000)])


class AuctionForm(FlaskForm):
    product_id = IntegerField("Product", validators=[InputRequired("Choose a product."), VALID_ID])
    start_price = MoneyField("Starting price", validators=[DataRequired("Enter a starting price.")])
    increment = MoneyField("Increment", validators=[DataRequired("Enter the increment, like 1.00.")])
    duration_seconds = IntegerField("Seconds", validators=[
        InputRequired(), NumberRange(10, 1800, "An auction lasts from 10 seconds to 30 minutes.")])
    mode = SelectField("Ending", choices=[SelectChoice("extend", "Extend on a late bid"),
                                          SelectChoice("sudden_death", "Sudden death")], default="extend")
    extend_seconds = IntegerField("Extend by", default=10, validators=[NumberRange(1, 60, "Extend by 1 to 60 s.")])


class GiveawayForm(FlaskForm):
    product_id = IntegerField("Product", validators=[InputRequired("Choose a product."), VALID_ID])
    require_comment = BooleanField("Must have commented")
    require_follow = BooleanField("Must follow the shop on TikTok")


class SellingSettingsForm(FlaskForm):
    claim_word = StringField("Claim word", validators=[DataRequired("Enter a claim word."), Length(max=20)])
    hold_minutes = IntegerField("Hold minutes", validators=[InputRequired(), NumberRange(1, 120, "1 to 120 minutes.")])


class BidForm(FlaskForm):
    amount = MoneyField("Your bid", validators=[DataRequired("Enter your bid, like 12.00.")])
    kind = SelectField(choices=[SelectChoice("bid"), SelectChoice("max")], default="bid")


class ClaimCodeForm(FlaskForm):
    code = StringField("Claim code", validators=[DataRequired("Enter the code the seller read out."), Length(max=12)])


class WaitlistForm(FlaskForm):
    product_id = IntegerField(validators=[InputRequired(), VALID_ID])
    stream_id = IntegerField(validators=[InputRequired(), VALID_ID])
