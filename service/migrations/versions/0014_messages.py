"""messages: secure messages per episode (append-only), and each thread's unread counts

`messages` is part of the record: triggers refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL), as on the event log (0009) and the export log (0010). An episode's thread is
read in order on (episode_id, id). `message_threads` keeps each side's unread count, so the
worklist's total is a sum over the clinic's threads with something unread
(ix_message_threads_staff_unread), not a count of messages.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

import service.core.tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("sender_side", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", service.core.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_messages_thread", "messages", ["episode_id", "id"])
    op.create_table(
        "message_threads",
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_unread", sa.Integer(), nullable=False),
        sa.Column("staff_unread", sa.Integer(), nullable=False),
        sa.Column("patient_read_up_to", sa.Integer(), nullable=False),
        sa.Column("staff_read_up_to", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.id"]),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.PrimaryKeyConstraint("episode_id"),
    )
    op.create_index("ix_message_threads_staff_unread", "message_threads",
                    ["clinic_id", "staff_unread"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER messages_append_only BEFORE UPDATE OR DELETE ON messages "
                   "FOR EACH ROW EXECUTE FUNCTION carepath_append_only()")
        op.execute("CREATE TRIGGER messages_no_truncate BEFORE TRUNCATE ON messages "
                   "FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER messages_no_{verb.lower()} BEFORE {verb} ON messages "
                       f"BEGIN SELECT RAISE(ABORT, 'carepath: messages is append-only: "
                       f"{verb} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER messages_append_only ON messages")
        op.execute("DROP TRIGGER messages_no_truncate ON messages")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER messages_no_{verb}")
    op.drop_index("ix_message_threads_staff_unread", table_name="message_threads")
    op.drop_table("message_threads")
    op.drop_index("ix_messages_thread", table_name="messages")
    op.drop_table("messages")
