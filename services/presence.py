"""Who is watching a show: the page's websocket is the presence signal.

A socket opening on a show's public channel joins its viewer, client heartbeats keep the viewer
fresh, and the socket closing leaves. One person is one viewer however many tabs or reloads: a
viewer is keyed by user id, or by the anonymous visitor cookie, and counts its open sockets
across tabs and workers. A viewer whose last heartbeat is older than the timeout is gone (the
sweeper catches sockets that died without closing, including a crashed worker's).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import LiveStream, StreamViewer

TIMEOUT_SECONDS = 60


def viewer_key(user_id: int | None, visitor_id: str | None) -> str:
    return f"u:{user_id}" if user_id is not None else f"v:{visitor_id}"


def join(stream_id: int, user_id: int | None, visitor_id: str | None, now: datetime | None = None) -> bool:
    """Count one more open socket for this person; returns True if they were not watching before."""
    now = now or utcnow()
    stream = db.session.get(LiveStream, stream_id)
    if stream is None or stream.status != "live":
        return False
    key = viewer_key(user_id, visitor_id)
    for _ in range(2):
        was_active = db.session.scalar(
            sa.select(StreamViewer.is_active).where(StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == key)
        )
        touched = db.session.execute(
            sa.update(StreamViewer)
            .where(StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == key)
            .values(open_sockets=StreamViewer.open_sockets + 1, is_active=True, last_seen_at=now, left_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not touched:
            db.session.add(StreamViewer(stream_id=stream_id, user_id=user_id, visitor_id=visitor_id, viewer_key=key,
                                        joined_at=now, last_seen_at=now, open_sockets=1))
            db.session.execute(
                sa.update(LiveStream).where(LiveStream.id == stream_id)
                .values(unique_viewers=LiveStream.unique_viewers + 1)
                .execution_options(synchronize_session=False)
            )
        try:
            _raise_peak(stream_id)
            db.session.commit()
            return not was_active
        except IntegrityError:
            # The same person's other tab inserted the row first: count on top of it.
            db.session.rollback()
    return False


def _raise_peak(stream_id: int) -> None:
    current = (
        sa.select(sa.func.count()).select_from(StreamViewer)
        .where(StreamViewer.stream_id == stream_id, StreamViewer.is_active)
        .scalar_subquery()
    )
    db.session.execute(
        sa.update(LiveStream).where(LiveStream.id == stream_id, LiveStream.peak_viewers < current)
        .values(peak_viewers=current).execution_options(synchronize_session=False)
    )


def heartbeat(stream_id: int, user_id: int | None, visitor_id: str | None, now: datetime | None = None) -> None:
    db.session.execute(
        sa.update(StreamViewer)
        .where(StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == viewer_key(user_id, visitor_id),
               StreamViewer.is_active)
        .values(last_seen_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def leave(stream_id: int, user_id: int | None, visitor_id: str | None, now: datetime | None = None) -> bool:
    """One socket fewer; returns True if that was the person's last one (they left)."""
    now = now or utcnow()
    key = viewer_key(user_id, visitor_id)
    where = (StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == key)
    db.session.execute(
        sa.update(StreamViewer).where(*where, StreamViewer.open_sockets > 0)
        .values(open_sockets=StreamViewer.open_sockets - 1).execution_options(synchronize_session=False)
    )
    left = db.session.execute(
        sa.update(StreamViewer).where(*where, StreamViewer.open_sockets == 0, StreamViewer.is_active)
        .values(is_active=False, left_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(left)


def sweep(now: datetime | None = None, timeout: int = TIMEOUT_SECONDS) -> list[int]:
    """Mark viewers silent for longer than `timeout` as gone; returns the shows whose count changed."""
    now = now or utcnow()
    stale = sa.and_(StreamViewer.is_active, StreamViewer.last_seen_at < now - timedelta(seconds=timeout))
    stream_ids = sorted(set(db.session.scalars(sa.select(StreamViewer.stream_id).where(stale))))
    if stream_ids:
        db.session.execute(
            sa.update(StreamViewer).where(stale).values(is_active=False, left_at=now, open_sockets=0)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return stream_ids
