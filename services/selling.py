"""What a show is selling right now, for its pages: the flash sale, the auction, the giveaway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from extensions import utcnow
from models import Auction, FlashSale, Giveaway
from services import auctions, flash_sales, giveaways


@dataclass(frozen=True)
class ShowSelling:
    sale: FlashSale | None
    auction: Auction | None
    giveaway: Giveaway | None
    entries: int
    now: datetime


def show_selling(stream_id: int, now: datetime | None = None) -> ShowSelling:
    giveaway = giveaways.current_giveaway(stream_id)
    return ShowSelling(
        sale=flash_sales.last_sale(stream_id),
        auction=auctions.current_auction(stream_id),
        giveaway=giveaway,
        entries=len(giveaways.entrant_ids(giveaway)) if giveaway else 0,
        now=now or utcnow(),
    )
