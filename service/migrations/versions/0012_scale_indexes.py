"""scale indexes: each filter of the task list, its urgent tasks, and due timers on an index

views.worklist filters a clinic's tasks by name, stratum or who claimed them, and lists
emergencies and red-flag reviews first in a query of their own. On the worklist index of
0003 each of these read every task of the clinic and role (a table row per index entry) to
find the few that match: at 100,000 active episodes, 30-100 ms a request (docs/benchmarks.md).
Each index below leads with the clinic and the filtered column and keeps the list's order,
so a filtered page and its count read only matching entries. The urgent index is partial:
only tasks with those alerts are in it, so it costs the other writes nothing.

The timer workers take the next due instance (repository.due_instances: status = 'running'
AND next_wake_at <= now ORDER BY next_wake_at). SQLite chose the status index for it and
sorted every running instance for each timer fired: two workers fired 18 timers a second
with 5,000 due. On (status, next_wake_at) the next one is the index's first entry.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ORDER = "role, (due_at IS NULL), due_at, task_id"
"""views.worklist: WHERE ... AND role = ? ORDER BY due_at IS NULL, due_at, task_id."""
FILTERS = [("ix_ready_tasks_worklist_name", "name"),
           ("ix_ready_tasks_worklist_stratum", "stratum"),
           ("ix_ready_tasks_worklist_claimed", "claimed_by")]
URGENT = "ix_ready_tasks_worklist_urgent"
DUE = "ix_instances_due"


def upgrade() -> None:
    for index, column in FILTERS:
        op.execute(f"CREATE INDEX {index} ON ready_tasks (clinic_id, {column}, {ORDER})")
    # The predicate as views.worklist writes it (literals, so both planners can match it).
    op.execute(f"CREATE INDEX {URGENT} ON ready_tasks (clinic_id, {ORDER}) "
               "WHERE alert IN ('emergency', 'red_flag')")
    op.create_index(DUE, "instances", ["status", "next_wake_at"])


def downgrade() -> None:
    op.drop_index(DUE, table_name="instances")
    for index in [URGENT, *(name for name, _ in reversed(FILTERS))]:
        op.drop_index(index, table_name="ready_tasks")
