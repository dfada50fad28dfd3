"""lean write indexes: drop indexes no query uses, which every completion had to update

Every completed task deletes and inserts ready_tasks rows and appends several events. The
worklist indexes of 0003 already lead with clinic_id and patient_id, and every query on
events selects by episode: the single-column indexes below only cost writes.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNUSED = [
    ("ready_tasks", "ix_ready_tasks_role", ["role"]),
    ("ready_tasks", "ix_ready_tasks_patient_id", ["patient_id"]),
    ("ready_tasks", "ix_ready_tasks_clinic_id", ["clinic_id"]),
    ("ready_tasks", "ix_ready_tasks_due_at", ["due_at"]),
    ("events", "ix_events_name", ["name"]),
    ("events", "ix_events_at", ["at"]),
    ("events", "ix_events_clinic_id", ["clinic_id"]),
]


def upgrade() -> None:
    for table, index, _columns in UNUSED:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for table, index, columns in UNUSED:
        op.create_index(index, table, columns)
