"""The data model: one module per aggregate, re-exported here."""

from models.shop import Shop
from models.user import User

__all__ = ["Shop", "User"]
