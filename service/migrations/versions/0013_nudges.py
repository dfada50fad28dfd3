"""nudges: the patient's email address, reminder preferences and the reminders sent

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "reminder_preferences",
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), primary_key=True),
        sa.Column("email_on", sa.Boolean(), nullable=False),
        sa.Column("remind_at", sa.Integer(), nullable=False),
        sa.Column("quiet_from", sa.Integer(), nullable=True),
        sa.Column("quiet_until", sa.Integer(), nullable=True),
        sa.Column("calendar_token_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("next_reminder_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_reminder_preferences_next_reminder_at", "reminder_preferences",
                    ["next_reminder_at"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("patient_id", "kind", "key", name="uq_reminders_patient_kind_key"),
    )
    op.create_index("ix_reminders_patient_id", "reminders", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_reminders_patient_id", "reminders")
    op.drop_table("reminders")
    op.drop_index("ix_reminder_preferences_next_reminder_at", "reminder_preferences")
    op.drop_table("reminder_preferences")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("email")
