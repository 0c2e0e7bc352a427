"""The data model: one module per aggregate, re-exported here."""

from models import viewer_search  # noqa: F401 - registers the search index with the schema
from models.cart import STREAM_SOURCES, Cart, CartItem
from models.catalog import CURRENCIES, Product
from models.live import (
    REACTIONS,
    STREAM_STATUSES,
    LiveStream,
    SavedStream,
    StreamEvent,
    StreamInteraction,
    StreamMute,
    StreamProduct,
    StreamViewer,
)
from models.order import ORDER_STATUSES, Order, OrderItem, StreamOrder
from models.shop import Shop
from models.tiktok import (
    ACCOUNT_STATUSES,
    IngestedMessage,
    IngestLease,
    IngestWorker,
    TikTokAccount,
    TikTokLinkCode,
    ViewerActivity,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
    ViewerSession,
    VipTier,
)
from models.user import LoginSession, User

__all__ = [
    "ACCOUNT_STATUSES",
    "IngestLease",
    "IngestWorker",
    "LoginSession",
    "IngestedMessage",
    "TikTokAccount",
    "TikTokLinkCode",
    "ViewerActivity",
    "ViewerGift",
    "ViewerInteraction",
    "ViewerProfile",
    "ViewerSession",
    "VipTier",
    "CURRENCIES",
    "ORDER_STATUSES",
    "STREAM_SOURCES",
    "REACTIONS",
    "STREAM_STATUSES",
    "Cart",
    "LiveStream",
    "SavedStream",
    "StreamEvent",
    "StreamInteraction",
    "StreamMute",
    "StreamProduct",
    "StreamViewer",
    "CartItem",
    "Order",
    "OrderItem",
    "Product",
    "Shop",
    "StreamOrder",
    "User",
]
