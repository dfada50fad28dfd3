"""Request and response bodies of nudges' routes: reminder settings, reminders sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from service.core.schemas import EmailAddress

ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                                 examples=["18:00"])]
"""A time of day, HH:MM on the 24-hour clock, in the clinic's time zone."""
ReminderKind = Literal["exercise", "questionnaire", "education", "message"]


class ReminderSettings(BaseModel):
    """How a patient wants to be reminded (GET and PUT /api/me/reminders)."""

    email: EmailAddress | None = None
    """Where reminders go; none: no email at all."""
    email_on: bool = True
    """Reminders by email (on unless the patient turns them off)."""
    remind_at: ClockTime = "18:00"
    """When the day's reminder goes out."""
    quiet_from: ClockTime | None = None
    quiet_until: ClockTime | None = None
    """No email between these times (may pass midnight, e.g. 21:00 to 08:00)."""

    @model_validator(mode="after")
    def _quiet_hours_whole(self) -> ReminderSettings:
        if (self.quiet_from is None) != (self.quiet_until is None):
            raise ValueError("give quiet hours both a start and an end, or neither")
        if self.quiet_from is not None and self.quiet_from == self.quiet_until:
            raise ValueError("quiet hours must end at another time than they start")
        return self


class SentReminderPublic(BaseModel):
    """A reminder as the clinician sees it: what kind, whether it went out, when."""

    kind: ReminderKind
    status: Literal["queued", "sent", "failed", "dropped"]
    at: datetime
    """When it was sent (or tried, or queued)."""


FORM_PROBLEMS = {
    "email": "Enter an email address like name@example.org, or leave it empty.",
    "remind_at": "Choose a time like 18:00.",
    "quiet_from": "Give quiet hours a start and an end (like 21:00 and 08:00), or neither.",
}


def settings_from_form(form: dict[str, str]) -> tuple[ReminderSettings | None, dict[str, str]]:
    """The account page's reminder form read as ReminderSettings, or field -> what to fix."""
    try:
        return ReminderSettings(
            email=form.get("email", "").strip() or None, email_on=form.get("email_on") == "yes",
            remind_at=form.get("remind_at", "").strip(),
            quiet_from=form.get("quiet_from", "").strip() or None,
            quiet_until=form.get("quiet_until", "").strip() or None), {}
    except ValidationError as err:
        fields = {str(e["loc"][0]) if e["loc"] else "quiet_from" for e in err.errors()}
        return None, {("quiet_from" if name == "quiet_until" else name):
                      FORM_PROBLEMS.get(name, FORM_PROBLEMS["quiet_from"]) for name in fields}
