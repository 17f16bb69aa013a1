"""Keys that may be used once, in the store, so that every process behind a balancer agrees.

A Mini App page sends back Telegram's signed ``initData``; whoever captured one could send it again within
its hour. The bot applies a given ``initData`` once: the first process to claim its key wins, and every
later claim, in any process, is refused. A key is kept until it expires (when its ``initData`` would be
refused as stale anyway); claiming sweeps the expired ones. Blocking (database): call from a worker thread.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy.exc
from sqlalchemy.engine import Engine
from sqlmodel import col, delete

from closures.models import UsedKey
from closures.store import session_scope


def claim(
    engine: Engine, key: str, *, purpose: str, user_id: int, now: datetime, expires_at: datetime
) -> bool:
    """Record ``key`` as used now; False when it already was (by anyone, in any process)."""
    if not key or len(key) > 128:
        raise ValueError("a key is 1 to 128 characters")
    with session_scope(engine, write=True) as session:
        session.exec(delete(UsedKey).where(col(UsedKey.expires_at) < now))
    try:
        with session_scope(engine, write=True) as session:
            if session.get(UsedKey, key) is not None:
                return False
            used = {"used_at": now, "expires_at": expires_at}
            session.add(UsedKey(key=key, purpose=purpose, telegram_user_id=user_id, **used))
    except sqlalchemy.exc.IntegrityError:  # another process claimed it between our read and our insert
        return False
    return True


def is_used(engine: Engine, key: str) -> bool:
    """Whether ``key`` was claimed (and has not expired out of the store yet)."""
    with session_scope(engine) as session:
        return session.get(UsedKey, key) is not None
