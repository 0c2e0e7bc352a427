"""Leases: exactly one process runs a given account. A lease row names its holder and expires
unless renewed; another process takes over an expired lease.

The accounts are spread over the processes alive: each process says it is alive (a worker row
that expires with its leases), and holds about its fair share, the accounts divided by the live
workers (and never more than `INGEST_MAX_ACCOUNTS`). A process holding more than its share hands
the surplus back, so a worker that starts later, on this machine or another, takes some over."""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from extensions import db
from models import IngestLease, IngestWorker
from services.database import upsert


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(account_ids: Sequence[int], holder: str, now: datetime, seconds: float) -> set[int]:
    """Take or renew the leases on `account_ids` with one statement; the ids this holder has now (not
    those another live holder has). A worker taking 200 LIVEs at once took them with a statement and
    a commit each, 400 round trips while the LIVEs it had taken already waited for the writer."""
    if not account_ids:
        return set()
    table = IngestLease.__table__
    expires_at = now + timedelta(seconds=seconds)
    statement = upsert(table).values([{"account_id": account_id, "holder": holder, "acquired_at": now,
                                       "expires_at": expires_at} for account_id in account_ids])
    statement = statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            "holder": statement.excluded.holder,
            "expires_at": statement.excluded.expires_at,
            "acquired_at": sa.case((table.c.holder == statement.excluded.holder, table.c.acquired_at),
                                   else_=statement.excluded.acquired_at),
        },
        where=sa.or_(table.c.holder == holder, table.c.expires_at < now),
    ).returning(table.c.account_id, table.c.holder)
    try:
        # A lease another live holder has is neither updated nor returned.
        won = {row.account_id for row in db.session.execute(statement) if row.holder == holder}
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


def heartbeat(holder: str, now: datetime, seconds: float) -> int:
    """Say this process is alive until `now + seconds`; the number of live workers, this one included."""
    table = IngestWorker.__table__
    statement = upsert(table).values(holder=holder, expires_at=now + timedelta(seconds=seconds))
    statement = statement.on_conflict_do_update(index_elements=["holder"],
                                                set_={"expires_at": statement.excluded.expires_at})
    try:
        db.session.execute(statement)
        # Rows of workers long gone (a minute past their expiry) are cleared by whoever checks.
        db.session.execute(sa.delete(IngestWorker).where(IngestWorker.expires_at < now - timedelta(minutes=1)))
        alive = db.session.execute(sa.select(sa.func.count()).select_from(IngestWorker)
                                   .where(IngestWorker.expires_at >= now)).scalar_one()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return max(1, alive)


def fair_share(accounts: int, workers: int, cap: int = 0) -> int:
    """How many accounts one of `workers` live processes should hold (rounded up, so all are held)."""
    share = math.ceil(accounts / max(1, workers))
    return min(share, cap) if cap > 0 else share


def renew(holder: str, account_ids: list[int], now: datetime, seconds: float) -> set[int]:
    """Renew this holder's leases on `account_ids` in one statement; the ids it still holds."""
    if not account_ids:
        return set()
    statement = (sa.update(IngestLease)
                 .where(IngestLease.holder == holder, IngestLease.account_id.in_(account_ids))
                 .values(expires_at=now + timedelta(seconds=seconds))
                 .returning(IngestLease.account_id))
    try:
        held = set(db.session.execute(statement).scalars())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return held


def unheld(account_ids: list[int], now: datetime) -> list[int]:
    """Of `account_ids`, those nobody holds: no lease, or an expired one."""
    if not account_ids:
        return []
    taken = set(db.session.execute(sa.select(IngestLease.account_id).where(
        IngestLease.account_id.in_(account_ids), IngestLease.expires_at >= now)).scalars())
    db.session.rollback()  # end the read transaction at once
    return [account_id for account_id in account_ids if account_id not in taken]


def retire(holder: str) -> None:
    """This process stops: it no longer counts as a worker."""
    db.session.execute(sa.delete(IngestWorker).where(IngestWorker.holder == holder))
    db.session.commit()
