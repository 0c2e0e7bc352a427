"""VIP tiers: the default tiers, the automatic ranking (B9), a viewer's tier set by hand in the
profile editor, and the tiers editor. The writer, the sweeper and the studio all call these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from extensions import db
from models import TikTokAccount, ViewerProfile, ViewerSession, VipTier
from services import account_figures
from services.database import id_chunks, ids_in
from services.errors import FieldError
from services.notices import Notice

#: Name, coins, watch hours, visits, colour, benefits (spec: "VIP tiers").
DEFAULT_TIERS = (
    ("Bronze", 1_000, 5, 10, "#cd7f32", "Bronze badge in the studio"),
    ("Silver", 5_000, 20, 25, "#c0c0c0", "Silver badge; shout-out on the first visit of a LIVE"),
    ("Gold", 20_000, 50, 50, "#ffd700", "Gold badge; priority answers in chat"),
    ("Platinum", 100_000, 200, 100, "#e5e4e2", "Platinum badge; early access to drops"),
)


def seed_default_tiers(account: TikTokAccount) -> None:
    """Give a new account the four default tiers (the caller commits)."""
    for rank, (name, coins, hours, visits, colour, benefits) in enumerate(DEFAULT_TIERS, start=1):
        db.session.add(VipTier(account_id=account.id, name=name, rank=rank, min_coins=coins,
                               min_watch_seconds=hours * 3600, min_visits=visits, colour=colour,
                               benefits=benefits))


def account_tiers(account_id: int) -> list[VipTier]:
    """The account's tiers, best first."""
    return list(db.session.scalars(
        sa.select(VipTier).where(VipTier.account_id == account_id).order_by(VipTier.rank.desc())
    ))


def qualifying_tier(tiers: Sequence[Any], coins: int, watch_seconds: int, visits: int) -> Any | None:
    """The best tier whose three thresholds are all met (tiers, or rows with their thresholds, sorted
    best first)."""
    for tier in tiers:
        if coins >= tier.min_coins and watch_seconds >= tier.min_watch_seconds and visits >= tier.min_visits:
            return tier
    return None


def reevaluate_vip(account: TikTokAccount, viewer_ids: Iterable[int], now: datetime) -> list[Notice]:
    """Re-rank the automatic VIPs among `viewer_ids`; a manual tier is never touched (B9).
    Returns a "promoted" notice only when the rank went up."""
    return reevaluate_vips([(account, viewer_ids)], now).get(account.id, [])


class Standing(NamedTuple):
    """What the ranking needs of a viewer: their three figures as they now stand, their tier and
    who set it (None or "auto": automation; "manual": the streamer), and what a notice names."""

    account_id: int
    id: int
    total_coins: int
    total_watch_seconds: int
    total_visits: int
    vip_tier_id: int | None
    vip_source: str | None
    is_blocked: bool
    handle: str


def reevaluate_vips(candidates: Iterable[tuple[TikTokAccount, Iterable[int]]],
                    now: datetime) -> dict[int, list[Notice]]:
    """`reevaluate_vip` for several accounts at once (the sweep's group, the end of many LIVEs): the
    candidates' figures are read with one statement for all of them, then ranked (`rank`). Returns
    the notices by account id."""
    wanted: dict[int, tuple[TikTokAccount, set[int]]] = {}
    for account, viewer_ids in candidates:
        if account.auto_vip and (ids := set(viewer_ids)):
            wanted[account.id] = (account, ids)
    if not wanted:
        return {}
    ids = [viewer_id for _, viewer_ids in wanted.values() for viewer_id in viewer_ids]
    standings: dict[int, list[Standing]] = {account_id: [] for account_id in wanted}
    for part in id_chunks(ids):  # an account's whole following when its tiers change
        for row in db.session.execute(
            sa.select(*(getattr(ViewerProfile, name) for name in Standing._fields))
            .where(ids_in(ViewerProfile.id, part), _AUTOMATIC)
        ):
            if row.id in wanted.get(row.account_id, (None, ()))[1]:  # not a profile of another account
                standings[row.account_id].append(Standing(*row))
    return rank([(account, standings[account_id]) for account_id, (account, _) in wanted.items()], now)


#: A profile whose tier automation decides (B9: a tier set by hand is never touched).
_AUTOMATIC = sa.or_(ViewerProfile.vip_source.is_(None), ViewerProfile.vip_source == "auto")


def rank(candidates: Iterable[tuple[TikTokAccount, Iterable[Standing]]], now: datetime) -> dict[int, list[Notice]]:
    """Give each automatic candidate the best tier their figures meet, or none (B9), for several
    accounts at once; the tiers are read with one statement. Only a viewer whose tier changes is
    written; a "promoted" notice comes only when the rank went up. The writer calls this with the
    figures it has just written (no need to read them back); `reevaluate_vips` reads them first.
    Returns the notices by account id."""
    wanted = {account.id: [standing for standing in standings if standing.vip_source in (None, "auto")]
              for account, standings in candidates if account.auto_vip}
    wanted = {account_id: standings for account_id, standings in wanted.items() if standings}
    if not wanted:
        return {}
    tiers: dict[int, list[Any]] = {account_id: [] for account_id in wanted}
    # Plain rows, not ORM objects: the writer reads them with every batch.
    for tier in db.session.execute(
            sa.select(VipTier.account_id, VipTier.id, VipTier.rank, VipTier.name, VipTier.min_coins,
                      VipTier.min_watch_seconds, VipTier.min_visits)
            .where(VipTier.account_id.in_(list(wanted))).order_by(VipTier.account_id, VipTier.rank.desc())):
        tiers[tier.account_id].append(tier)
    notices: dict[int, list[Notice]] = {account_id: [] for account_id in wanted}
    vips: dict[int, int] = dict.fromkeys(wanted, 0)
    marked: dict[bool, list[int]] = {True: [], False: []}
    for account_id, standings in wanted.items():
        ranked = tiers[account_id]
        for row in standings:
            tier = qualifying_tier(ranked, row.total_coins, row.total_watch_seconds, row.total_visits)
            new_id = tier.id if tier else None
            if new_id == row.vip_tier_id:
                continue
            old = next((known for known in ranked if known.id == row.vip_tier_id), None)
            values: dict[str, Any] = {"vip_tier_id": new_id, "vip_source": "auto" if tier else None}
            if tier is None:
                values["vip_since"] = None
            elif old is None:
                values["vip_since"] = now
            moved = db.session.execute(sa.update(ViewerProfile).where(ViewerProfile.id == row.id, _AUTOMATIC)
                                       .values(**values)).rowcount
            change = account_figures.vip_change(row.vip_tier_id, new_id) if moved == 1 else 0
            vips[account_id] += change
            if change:
                marked[new_id is not None].append(row.id)
            if tier is not None and (old is None or tier.rank > old.rank) and not row.is_blocked:
                notices[account_id].append(Notice("vip", f"@{row.handle} is now {tier.name} VIP", row.id))
    for account_id, change in vips.items():
        account_figures.add(account_id, vip_viewers=change)
    for is_vip, viewer_ids in marked.items():
        mark_sessions(viewer_ids, is_vip)
    return notices


def mark_sessions(viewer_ids: Iterable[int] | sa.Select, is_vip: bool) -> None:
    """Every session of these viewers carries their new VIP status (the overview's feed finds the
    LIVE's VIPs' sessions by it); every path that gives or takes a tier calls this."""
    if not isinstance(viewer_ids, sa.Select):
        viewer_ids = list(viewer_ids)
        if not viewer_ids:
            return
    if isinstance(viewer_ids, sa.Select):
        db.session.execute(sa.update(ViewerSession).where(ViewerSession.viewer_id.in_(viewer_ids)).values(vip=is_vip))
        return
    for part in id_chunks(viewer_ids):
        db.session.execute(sa.update(ViewerSession).where(ids_in(ViewerSession.viewer_id, part)).values(vip=is_vip))


def set_vip(account: TikTokAccount, viewer: ViewerProfile, choice: str, tier: VipTier | None,
            now: datetime) -> None:
    """The profile editor's VIP choice (the caller commits): "auto" hands the viewer back to
    automation, "none" locks them out of VIP (a removed VIP stays removed), a tier sets and locks it."""
    old_tier_id = viewer.vip_tier_id
    if choice == "auto":
        if viewer.vip_source == "manual":
            # Clearing the lock hands the viewer back to automation, which decides afresh.
            viewer.vip_source = viewer.vip_tier_id = viewer.vip_since = None
            account_figures.add(account.id, vip_viewers=account_figures.vip_change(old_tier_id, None))
            if old_tier_id is not None:
                mark_sessions([viewer.id], False)
            db.session.flush()
            reevaluate_vip(account, [viewer.id], now)
            db.session.refresh(viewer)
        return
    if choice == "none":
        viewer.vip_tier_id, viewer.vip_source, viewer.vip_since = None, "manual", None
    else:
        assert tier is not None and tier.account_id == account.id
        if viewer.vip_tier_id is None:
            viewer.vip_since = now
        viewer.vip_tier_id, viewer.vip_source = tier.id, "manual"
    change = account_figures.vip_change(old_tier_id, viewer.vip_tier_id)
    account_figures.add(account.id, vip_viewers=change)
    if change:
        mark_sessions([viewer.id], viewer.vip_tier_id is not None)


# --- the tiers editor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TierDraft:
    name: str
    min_coins: int
    min_watch_hours: int
    min_visits: int
    colour: str
    benefits: str


def tiers_in_order(account: TikTokAccount) -> list[VipTier]:
    """Lowest rank first, the order the editor shows."""
    return list(reversed(account_tiers(account.id)))


def account_tier(account: TikTokAccount, tier_id: int) -> VipTier | None:
    tier = db.session.get(VipTier, tier_id)
    return tier if tier is not None and tier.account_id == account.id else None


def _check_name(account: TikTokAccount, name: str, tier_id: int | None) -> None:
    taken = db.session.scalar(sa.select(VipTier.id).where(
        VipTier.account_id == account.id, sa.func.lower(VipTier.name) == name.lower(),
        VipTier.id != (tier_id or 0)))
    if taken:
        raise FieldError("name", "Another tier has this name.")


def _reevaluate_all(account: TikTokAccount, now: datetime) -> int:
    """Re-rank every automatic viewer after the tiers changed; returns how many were considered."""
    db.session.flush()
    ids = list(db.session.scalars(sa.select(ViewerProfile.id).where(
        ViewerProfile.account_id == account.id,
        sa.or_(ViewerProfile.vip_source.is_(None), ViewerProfile.vip_source == "auto"))))
    reevaluate_vip(account, ids, now)
    return len(ids)


def _apply_draft(tier: VipTier, draft: TierDraft) -> None:
    tier.name, tier.min_coins, tier.min_visits = draft.name, draft.min_coins, draft.min_visits
    tier.min_watch_seconds = draft.min_watch_hours * 3600
    tier.colour, tier.benefits = draft.colour, draft.benefits


def add_tier(account: TikTokAccount, draft: TierDraft, now: datetime) -> VipTier:
    """A new tier ranked above the others; automatic viewers are re-ranked."""
    _check_name(account, draft.name, None)
    top = db.session.scalar(sa.select(sa.func.max(VipTier.rank)).where(VipTier.account_id == account.id)) or 0
    tier = VipTier(account_id=account.id, rank=top + 1)
    _apply_draft(tier, draft)
    db.session.add(tier)
    _reevaluate_all(account, now)
    db.session.commit()
    return tier


def edit_tier(account: TikTokAccount, tier: VipTier, draft: TierDraft, now: datetime) -> None:
    """Save a tier's thresholds and looks, then re-rank every automatic viewer of the account."""
    _check_name(account, draft.name, tier.id)
    _apply_draft(tier, draft)
    _reevaluate_all(account, now)
    db.session.commit()


def move_tier(account: TikTokAccount, tier: VipTier, direction: str, now: datetime) -> bool:
    """Swap ranks with the neighbour above ("up") or below ("down"); False at either end."""
    ordered = tiers_in_order(account)
    index = ordered.index(tier)
    other_index = index + 1 if direction == "up" else index - 1
    if not 0 <= other_index < len(ordered):
        return False
    other = ordered[other_index]
    tier.rank, other.rank = other.rank, tier.rank
    _reevaluate_all(account, now)
    db.session.commit()
    return True


def delete_tier(account: TikTokAccount, tier: VipTier, now: datetime) -> None:
    """Delete a tier; viewers set to it by hand go back to automatic, then everyone is re-ranked."""
    mark_sessions(sa.select(ViewerProfile.id).where(ViewerProfile.vip_tier_id == tier.id), False)
    unset = db.session.execute(sa.update(ViewerProfile).where(ViewerProfile.vip_tier_id == tier.id).values(
        vip_tier_id=None, vip_source=None, vip_since=None)).rowcount
    account_figures.add(account.id, vip_viewers=-unset)
    db.session.delete(tier)
    _reevaluate_all(account, now)
    db.session.commit()
