"""worklist filter indexes: each filter of the task list, and its urgent tasks, on an index

views.worklist filters a clinic's tasks by name, stratum or who claimed them, and lists
emergencies and red-flag reviews first in a query of their own. On the worklist index of
0003 each of these read every task of the clinic and role (a table row per index entry) to
find the few that match: at 100,000 active episodes, 30-100 ms a request (docs/benchmarks.md).
Each index below leads with the clinic and the filtered column and keeps the list's order,
so a filtered page and its count read only matching entries. The urgent index is partial:
only tasks with those alerts are in it, so it costs the other writes nothing.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ORDER = "role, (due_at IS NULL), due_at, task_id"
"""views.worklist: WHERE ... AND role = ? ORDER BY due_at IS NULL, due_at, task_id."""
FILTERS = [("ix_ready_tasks_worklist_name", "name"),
           ("ix_ready_tasks_worklist_stratum", "stratum"),
           ("ix_ready_tasks_worklist_claimed", "claimed_by")]
URGENT = "ix_ready_tasks_worklist_urgent"


def upgrade() -> None:
    for index, column in FILTERS:
        op.execute(f"CREATE INDEX {index} ON ready_tasks (clinic_id, {column}, {ORDER})")
    # The predicate as views.worklist writes it (literals, so both planners can match it).
    op.execute(f"CREATE INDEX {URGENT} ON ready_tasks (clinic_id, {ORDER}) "
               "WHERE alert IN ('emergency', 'red_flag')")


def downgrade() -> None:
    for index in [URGENT, *(name for name, _ in reversed(FILTERS))]:
        op.drop_index(index, table_name="ready_tasks")
