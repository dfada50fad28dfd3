"""worklist index: the task list's filter and order, so it needs no sort as clinics grow

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Matches views.worklist: WHERE clinic_id = ? AND role IN (...) ORDER BY due_at IS NULL,
    # due_at, task_id.
    op.execute("CREATE INDEX ix_ready_tasks_worklist ON ready_tasks "
               "(clinic_id, role, (due_at IS NULL), due_at, task_id)")
    op.execute("CREATE INDEX ix_ready_tasks_patient_worklist ON ready_tasks "
               "(patient_id, role, (due_at IS NULL), due_at, task_id)")


def downgrade() -> None:
    op.drop_index("ix_ready_tasks_patient_worklist", table_name="ready_tasks")
    op.drop_index("ix_ready_tasks_worklist", table_name="ready_tasks")
