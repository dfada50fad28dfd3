"""Nudges' JSON routes: the calling patient's reminder settings."""

from __future__ import annotations

from fastapi import APIRouter

from service.core.deps import CallDep
from service.nudges import service as nudges
from service.nudges.schemas import ReminderSettings

router = APIRouter(prefix="/api", tags=["reminders"])


@router.get("/me/reminders", response_model=ReminderSettings)
async def reminder_settings(call: CallDep) -> ReminderSettings:
    """Patients: your reminder settings (the account page's "Reminders" twin)."""
    return await call(nudges.reminder_settings)


@router.put("/me/reminders", response_model=ReminderSettings)
async def update_reminder_settings(body: ReminderSettings, call: CallDep) -> ReminderSettings:
    """Patients: change your email address, turn reminder emails on or off, choose when the
    day's reminder comes and your quiet hours (clinic time, HH:MM)."""
    return await call(lambda ctx: nudges.update_reminder_settings(ctx, body))
