"""Registration, login and shop forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class RegisterForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email address."), Email("Enter a valid email address."), Length(max=254)],
    )
    username = StringField(
        "Username",
        validators=[
            DataRequired("Choose a username."),
            Length(3, 30, "A username has 3 to 30 characters."),
            Regexp(USERNAME_PATTERN, message="Use letters, digits, dots, dashes and underscores only."),
        ],
    )
    display_name = StringField(
        "Display name",
        validators=[DataRequired("Enter the name people will see."), Length(max=60, message="At most 60 characters.")],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), Length(8, 128, "A password has 8 to 128 characters.")],
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The passwords do not match.")],
    )


class LoginForm(FlaskForm):
    identifier = StringField("Email or username", validators=[DataRequired("Enter your email or username.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Remember me")
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), Length(8, 128, "A password has 8 to 128 characters.")],
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired("Repeat the new password."), EqualTo("new_password", "The passwords do not match.")],
    )


class OpenShopForm(FlaskForm):
    name = StringField(
        "Shop name",
        validators=[DataRequired("Give your shop a name."), Length(2, 80, "A shop name has 2 to 80 characters.")],
    )
    slug = StringField(
        "Shop address",
        description="Lower-case letters, digits and dashes; it becomes your shop's URL.",
        validators=[
            DataRequired("Choose the shop's address."),
            Length(2, 60, "An address has 2 to 60 characters."),
            Regexp(SLUG_PATTERN, message="Use lower-case letters, digits and single dashes, like my-shop."),
        ],
    )
