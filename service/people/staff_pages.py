"""The admins' page: staff accounts (list, add, deactivate, reactivate, a new password), the
page twin of `/api/users`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from service.core import access
from service.core.context import Context
from service.core.deps import PageCallDep, PageFormDep, SlowPageCallDep
from service.core.errors import ConflictError, InvalidRequestError, NotFoundError
from service.core.pages import new_password_problems, redirect, render, viewer
from service.core.schemas import Id, id_from
from service.core.tables import User
from service.people import service as people
from service.people.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(include_in_schema=False)

STAFF_ROLES = ("physiotherapist", "clinic_lead", "manager", "auditor", "admin")
CHOOSE_A_CLINIC = "Choose the clinic of a physiotherapist or clinic lead."


@dataclass(frozen=True)
class ClinicChoice:
    id: int
    name: str


@dataclass(frozen=True)
class StaffPage:
    accounts: tuple[UserPublic, ...]
    clinics: tuple[ClinicChoice, ...]
    roles: tuple[str, ...] = STAFF_ROLES
    notice: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    """Problems with the "add an account" form: field -> what to fix."""
    problem: str = ""
    """A problem with a change to an existing account."""
    form: dict[str, str] = field(default_factory=dict)
    """What was typed into the "add an account" form, to show again after a problem."""


def _staff_page(ctx: Context, **kwargs: object) -> StaffPage:
    accounts = tuple(UserPublic.model_validate(user, from_attributes=True)
                     for user in people.staff_accounts(ctx))
    clinics = tuple(ClinicChoice(c.id or 0, c.name) for c in people.clinics(ctx))
    return StaffPage(accounts, clinics, **kwargs)  # type: ignore[arg-type]


def _new_account(form: dict[str, str]) -> tuple[UserCreate | None, dict[str, str]]:
    errors = {}
    if not 8 <= len(form.get("password", "")) <= 200:
        errors["password"] = "Choose a password of 8 to 200 characters."
    try:
        body = UserCreate(username=form.get("username", ""), password=form.get("password", ""),
                          role=form.get("role", ""),  # type: ignore[arg-type]
                          full_name=form.get("full_name", ""),
                          clinic_id=id_from(form.get("clinic_id", "")))
    except ValidationError as err:
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "username"
            errors.setdefault(name, {
                "username": "Choose a username of 3 to 100 letters, digits, dots, dashes or "
                            "underscores.",
                "role": "Choose a role.",
                "full_name": "Shorten the name to at most 200 characters.",
            }.get(name, "Check this field."))
        return None, errors
    return (None, errors) if errors else (body, {})


DONE = {"add": "added",
        "deactivate": "deactivated: its logins have ended",
        "reactivate": "reactivated",
        "password": "given a new password: its logins have ended"}
"""What a change did, as the page says after it (the `done` of the page's address)."""


@router.get("/staff", response_class=HTMLResponse)
async def staff(request: Request, call: PageCallDep, done: str = "",
                user_id: Id | None = None) -> Response:
    """Admins' landing page: every staff account, and the forms to change them; after a
    change (`?done=add&user_id=7`), what it did."""
    def work(ctx: Context) -> Response:
        page = _staff_page(ctx)
        changed = next((a for a in page.accounts if a.id == user_id), None)
        if changed is not None and done in DONE:
            page = replace(page, notice=f"Account {changed.username} {DONE[done]}.")
        return render(request, "staff.html", page, viewer(request, ctx))

    return await call(work)


def _done(action: str, user: User) -> Response:
    """After a change, the list again by GET (POST-redirect-GET: a reload sends nothing)."""
    return redirect(f"/staff?done={action}&user_id={user.id}")


@router.post("/staff", response_class=HTMLResponse)
async def change_staff(request: Request, call: SlowPageCallDep, form: PageFormDep) -> Response:
    """The page's forms: `action` is add, deactivate, reactivate or password (with
    `user_id`); as `POST /api/users` and `PATCH /api/users/{id}` do."""
    action = form.get("action", "")

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        access.require_role(ctx.user, "admin")
        if action == "add":
            body, errors = _new_account(form)
            if body is not None:
                try:
                    user = people.create_user(ctx, body)
                except ConflictError as err:
                    errors = {"username": str(err).capitalize() + "."}
                except InvalidRequestError:
                    errors = {"clinic_id": CHOOSE_A_CLINIC}
                else:
                    return _done(action, user)
            return render(request, "staff.html", _staff_page(ctx, errors=errors, form=form),
                          who, status_code=422)
        user_id = id_from(form.get("user_id", ""))
        problem, update = "", None
        if user_id is None:
            problem = "Choose an account from the list."
        elif action in ("deactivate", "reactivate"):
            update = UserUpdate(active=action == "reactivate")
        elif action == "password":
            problem = new_password_problems(form).get("new_password", "") or (
                new_password_problems(form).get("new_password_again", ""))
            if not problem:
                update = UserUpdate(password=form["new_password"])
        else:
            problem = "Choose what to do with the account."
        if update is not None and user_id is not None:
            try:
                user = people.update_staff_account(ctx, user_id, update)
            except (InvalidRequestError, NotFoundError) as err:
                problem = str(err).capitalize() + "."
            else:
                return _done(action, user)
        return render(request, "staff.html", _staff_page(ctx, problem=problem), who,
                      status_code=422)

    return await call(work)
