"""Request and response bodies of people's routes: logins, tokens, accounts, referrals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.core.schemas import EmailAddress, Id
from service.core.tables import UserRole


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str


class LoginPublic(BaseModel):
    role: str
    csrf_token: str


class UserPublic(BaseModel):
    id: int
    username: str
    role: str
    full_name: str
    clinic_id: int | None
    patient_id: int | None
    active: bool


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-zA-Z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: UserRole
    full_name: str = Field(default="", max_length=200)
    clinic_id: Id | None = None
    patient_id: Id | None = None


class UserUpdate(BaseModel):
    """An admin's change to an account: deactivate or reactivate it, or give it a new
    password. Deactivating it or changing its password ends every login it has."""

    model_config = ConfigDict(extra="forbid")
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)

    @model_validator(mode="after")
    def _changes_something(self) -> UserUpdate:
        if self.active is None and self.password is None:
            raise ValueError("give `active`, `password` or both")
        return self


class PatientPassword(BaseModel):
    """A new password for a patient's login, set by a clinician of their clinic."""

    password: str = Field(min_length=8, max_length=200)


class PatientLoginPublic(BaseModel):
    username: str


class PasswordChange(BaseModel):
    """Changing one's own password: the current one, and the new one."""

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class PatientLogin(BaseModel):
    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-zA-Z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=200)


class ReferralCreate(BaseModel):
    display_name: str = Field(min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    login: PatientLogin | None = None
    """Optional: create the patient's own login at the same time."""
    email: EmailAddress | None = None
    """Optional: where the patient's reminders go (they can change it on their account)."""


class SelfReferralCreate(BaseModel):
    clinic_id: Id
    display_name: str = Field(min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    login: PatientLogin
    email: EmailAddress | None = None
    """Optional: where reminders go (the account page can change it)."""

