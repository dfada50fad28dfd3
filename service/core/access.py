"""Who may see and do what. Every route calls one of these with the caller and the patient.

- patient: only their own episodes, and only patient tasks in them;
- physiotherapist: patients of their clinic, physiotherapist tasks;
- clinic_lead: as a physiotherapist, plus clinic_lead tasks;
- manager: models; auditor: the event log and indicators (read only); admin: users.
"""

from __future__ import annotations

from service.core.errors import ForbiddenError, NotAuthenticatedError, NotFoundError
from service.core.tables import Episode, ReadyTask, User

CLINICIANS = frozenset({"physiotherapist", "clinic_lead"})
TASK_ROLES_BY_USER_ROLE = {
    "patient": {"patient"},
    "physiotherapist": {"physiotherapist"},
    "clinic_lead": {"physiotherapist", "clinic_lead"},
}


def require_user(user: User | None) -> User:
    if user is None:
        raise NotAuthenticatedError("log in first")
    return user


def require_role(user: User | None, *roles: str) -> User:
    user = require_user(user)
    if user.role not in roles:
        raise ForbiddenError(f"this needs the role {' or '.join(roles)}; you are {user.role}")
    return user


def can_see_episode(user: User, episode: Episode) -> bool:
    if user.role == "patient":
        return user.patient_id is not None and user.patient_id == episode.patient_id
    if user.role in CLINICIANS:
        return user.clinic_id is not None and user.clinic_id == episode.clinic_id
    return False


def require_episode(user: User | None, episode: Episode) -> User:
    user = require_user(user)
    if not can_see_episode(user, episode):
        # The same answer as for an episode that does not exist: ids cannot be probed.
        raise NotFoundError("there is no such record you can see")
    return user


def require_task_work(user: User | None, task: ReadyTask, episode: Episode) -> User:
    user = require_episode(user, episode)
    if task.role not in TASK_ROLES_BY_USER_ROLE.get(user.role, set()):
        raise ForbiddenError(f"this task is for the {task.role} role")
    return user
