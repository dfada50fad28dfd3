"""exercise log sets: how many sets the patient did, logged with the day's session

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exercise_logs") as batch:
        batch.add_column(sa.Column("sets", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exercise_logs") as batch:
        batch.drop_column("sets")
