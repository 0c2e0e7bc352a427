"""Leases: exactly one process runs a given account. A lease row names its holder and expires
unless renewed; another process takes over an expired lease."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from extensions import db
from models import IngestLease
from services.viewers import _insert


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(account_id: int, holder: str, now: datetime, seconds: float) -> bool:
    """Take or renew the lease on `account_id`; False while another live holder has it."""
    table = IngestLease.__table__
    statement = _insert(table).values(account_id=account_id, holder=holder, acquired_at=now,
                                      expires_at=now + timedelta(seconds=seconds))
    statement = statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            "holder": statement.excluded.holder,
            "expires_at": statement.excluded.expires_at,
            "acquired_at": sa.case((table.c.holder == statement.excluded.holder, table.c.acquired_at),
                                   else_=statement.excluded.acquired_at),
        },
        where=sa.or_(table.c.holder == holder, table.c.expires_at < now),
    ).returning(table.c.holder)
    try:
        won = db.session.execute(statement).scalar() == holder
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return won


def release(account_id: int, holder: str) -> None:
    db.session.execute(sa.delete(IngestLease).where(IngestLease.account_id == account_id,
                                                     IngestLease.holder == holder))
    db.session.commit()


def holder_of(account_id: int) -> IngestLease | None:
    return db.session.get(IngestLease, account_id)
