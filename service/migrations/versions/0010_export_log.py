"""export log: who made an identifiable export of the audit data, and why

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.core.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", service.core.tables.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("export", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_export_log_at", "export_log", ["at"])
    op.create_index("ix_export_log_user_id", "export_log", ["user_id"])
    # Append-only like the other logs (0009 made the trigger function on PostgreSQL).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER export_log_append_only BEFORE UPDATE OR DELETE ON export_log "
                   "FOR EACH ROW EXECUTE FUNCTION carepath_append_only()")
        op.execute("CREATE TRIGGER export_log_no_truncate BEFORE TRUNCATE ON export_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION carepath_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER export_log_no_{verb.lower()} BEFORE {verb} ON export_log "
                       f"BEGIN SELECT RAISE(ABORT, 'carepath: export_log is append-only: "
                       f"{verb} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER export_log_append_only ON export_log")
        op.execute("DROP TRIGGER export_log_no_truncate ON export_log")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER export_log_no_{verb}")
    op.drop_index("ix_export_log_user_id", table_name="export_log")
    op.drop_index("ix_export_log_at", table_name="export_log")
    op.drop_table("export_log")
