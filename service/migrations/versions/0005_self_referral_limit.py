"""self-referral limit: recent self-referrals by client address

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from service.core.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_referrals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_self_referrals_client_at", "self_referrals", ["client", "at"])
    op.create_index("ix_self_referrals_at", "self_referrals", ["at"])


def downgrade() -> None:
    op.drop_table("self_referrals")
