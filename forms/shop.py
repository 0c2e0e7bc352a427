"""Product, cart and checkout forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from models import CURRENCIES
from services.money import parse_money


class ProductForm(FlaskForm):
    title = StringField(
        "Title",
        validators=[DataRequired("Give the product a title."), Length(max=120, message="At most 120 characters.")],
    )
    description = TextAreaField("Description", validators=[Length(max=5000, message="At most 5,000 characters.")])
    price = StringField("Price", validators=[DataRequired("Enter a price, like 12.50.")])
    currency = SelectField("Currency", choices=[SelectChoice(code) for code in CURRENCIES])
    stock = IntegerField(
        "Stock",
        validators=[
            InputRequired("Enter how many you have (0 is fine)."),
            NumberRange(0, 1_000_000, "Stock is a whole number from 0 to 1,000,000."),
        ],
    )
    image = FileField(
        "Image",
        description="JPEG, PNG or WebP, up to 3 MB.",
        validators=[Optional(), FileAllowed(["jpg", "jpeg", "png", "webp"], "Only JPEG, PNG and WebP images.")],
    )
    is_active = BooleanField("Visible in the shop", default=True)

    def validate_price(self, field: StringField) -> None:
        try:
            self.price_cents = parse_money(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None
        if self.price_cents > 100_000_000:
            raise ValidationError("That price is too high.")


class AddToCartForm(FlaskForm):
    product_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField("Quantity", default=1, validators=[InputRequired(), NumberRange(1, 99, "Choose 1 to 99.")])
    stream_id = HiddenField()
    source = HiddenField()


class QuantityForm(FlaskForm):
    quantity = IntegerField("Quantity", validators=[InputRequired(), NumberRange(0, 99, "Choose 0 to 99.")])


class CheckoutForm(FlaskForm):
    idempotency_key = HiddenField()
    flash_sale_id = HiddenField()
    fingerprint = HiddenField()
    product_id = HiddenField()
    quantity = HiddenField()
    stream_id = HiddenField()
    source = HiddenField()
