"""The data model: one module per aggregate, re-exported here."""

from models.cart import STREAM_SOURCES, Cart, CartItem
from models.catalog import CURRENCIES, Product
from models.order import ORDER_STATUSES, Order, OrderItem, StreamOrder
from models.shop import Shop
from models.user import User

__all__ = [
    "CURRENCIES",
    "ORDER_STATUSES",
    "STREAM_SOURCES",
    "Cart",
    "CartItem",
    "Order",
    "OrderItem",
    "Product",
    "Shop",
    "StreamOrder",
    "User",
]
