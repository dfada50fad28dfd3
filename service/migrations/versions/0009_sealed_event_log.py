"""sealed event log: every column of an event hashed under a key, the log tables append-only

The chain was plain SHA-256 over some columns; it becomes HMAC-SHA256 over every column
(service/core/event_chain.py) under CAREPATH_AUDIT_KEY, which the database does not hold. The
existing events are re-chained here, once, with the key of the settings `carepath db upgrade`
(or `serve`) runs with, after checking their old chain: a log already broken under the old
rule is not re-keyed (that would make a tampered log verify), and the upgrade stops naming
the event. Then triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) on `events` and
`access_log`. A later migration that rebuilds either table on SQLite (batch mode copies it)
must create its triggers again.

Revision ID: 0009
Revises: 0008
"""
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from service.core.event_chain import GENESIS, UnsealedError, event_hash, seal_of
from service.core.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LOG_TABLES = ("events", "access_log")
EVENTS = sa.table(
    "events", sa.column("id", sa.Integer()), sa.column("episode_id", sa.Integer()),
    sa.column("clinic_id", sa.Integer()), sa.column("name", sa.String()),
    sa.column("at", UTCDateTime()), sa.column("element", sa.String()),
    sa.column("actor_id", sa.Integer()), sa.column("data", sa.JSON()),
    sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()))
REWRITE = (sa.update(EVENTS).where(EVENTS.c.id == sa.bindparam("row_id"))
           .values(prev_hash=sa.bindparam("new_prev_hash"), hash=sa.bindparam("new_hash")))


def _plain_hash(prev_hash: str, row: Any) -> str:
    """The chain's rule up to 0008 (then service/core/event_chain.py), kept here as it was."""
    body = json.dumps([prev_hash, row["episode_id"], row["name"], row["at"].isoformat(),
                       row["element"], row["actor_id"], row["data"]],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _events() -> list[Any]:
    return list(op.get_bind().execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings())


def _rewrite(links: list[dict[str, Any]]) -> None:
    if links:
        op.get_bind().execute(REWRITE, links)


def upgrade() -> None:
    rows = _events()
    if rows:
        try:
            key = seal_of(op.get_bind()).key
        except UnsealedError:
            raise RuntimeError("the event log is re-keyed with CAREPATH_AUDIT_KEY by this "
                               "migration: run it with `carepath db upgrade`") from None
        prev = GENESIS
        for row in rows:
            if row["prev_hash"] != prev or row["hash"] != _plain_hash(prev, row):
                raise RuntimeError(
                    f"the event log breaks at event {row['id']} under its old rule, so it is "
                    "not re-keyed (that would seal a changed log): restore the database from "
                    "a backup, or investigate, before upgrading")
            prev = row["hash"]
        links, prev = [], GENESIS
        for row in rows:
            chained = {**row, "prev_hash": prev}
            prev = event_hash(key, chained)
            links.append({"row_id": row["id"], "new_prev_hash": chained["prev_hash"],
                          "new_hash": prev})
        _rewrite(links)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION carepath_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'carepath: % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'restrict_violation';
            END $$""")
        for table in LOG_TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION carepath_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only()")
    else:
        for table in LOG_TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, 'carepath: {table} is append-only: "
                           f"{verb} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LOG_TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION carepath_append_only()")
    else:
        for table in LOG_TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{verb}")
    # Back to the old rule, which needs no key (and so cannot check the keyed chain first).
    links, prev = [], GENESIS
    for row in _events():
        prev_hash, prev = prev, _plain_hash(prev, row)
        links.append({"row_id": row["id"], "new_prev_hash": prev_hash, "new_hash": prev})
    _rewrite(links)
