"""The data model: one module per aggregate, re-exported here."""

from models import viewer_search  # noqa: F401 - registers the search index with the schema
from models.cart import STREAM_SOURCES, Cart, CartItem
from models.catalog import CURRENCIES, Product
from models.live import (
    REACTIONS,
    STREAM_STATUSES,
    VIDEO_STATES,
    LiveStream,
    SavedStream,
    StreamEvent,
    StreamInteraction,
    StreamMute,
    StreamProduct,
    StreamViewer,
)
from models.order import ORDER_STATUSES, Order, OrderItem, StreamOrder
from models.selling import (
    Auction,
    AuctionBid,
    ChatClaim,
    FlashSale,
    Giveaway,
    GiveawayEntry,
    SellingSettings,
    WaitlistEntry,
)
from models.shop import Shop
from models.tiktok import (
    ACCOUNT_STATUSES,
    VIEWER_ROWS,
    GiftStreak,
    IngestedMessage,
    IngestLease,
    IngestWorker,
    LastSeenHour,
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

#: The largest id: primary keys are `INTEGER` (32-bit on PostgreSQL), so a larger number names
#: nothing and must not reach a query (PostgreSQL would refuse it: "integer out of range").
MAX_ID = 2**31 - 1
#: The largest whole number any `INTEGER` column holds (counts, cents, coins, thresholds).
MAX_INT = 2**31 - 1

__all__ = [
    "MAX_ID",
    "MAX_INT",
    "Auction",
    "AuctionBid",
    "ChatClaim",
    "FlashSale",
    "Giveaway",
    "GiveawayEntry",
    "SellingSettings",
    "WaitlistEntry",
    "ACCOUNT_STATUSES",
    "GiftStreak",
    "IngestLease",
    "IngestWorker",
    "LastSeenHour",
    "LoginSession",
    "IngestedMessage",
    "TikTokAccount",
    "TikTokLinkCode",
    "VIEWER_ROWS",
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
    "VIDEO_STATES",
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
