"""Login (bearer tokens for the API, cookies for pages), logout, who am I and one's own
password, and admins' accounts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.audit import views as access_logs
from service.audit.schemas import OwnAccessPublic
from service.core import access, credentials
from service.core.context import Context
from service.core.deps import AnonymousCallDep, CallDep, SlowCallDep, bearer_token, client_address
from service.core.errors import ForbiddenError
from service.core.openapi import LOGIN, PUBLIC, RATE_LIMITED
from service.core.schemas import Id
from service.core.tables import User
from service.people import auth
from service.people import service as people
from service.people.schemas import (
    Credentials,
    LoginPublic,
    PasswordChange,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)

router = APIRouter(prefix="/api", tags=["auth"])


def _authenticate(ctx: Context, request: Request, body: Credentials) -> User:
    return auth.authenticate(ctx.session, request.app.state.settings, body.username,
                             body.password, client_address(request), ctx.now)


@router.post("/auth/token", response_model=TokenPublic, openapi_extra=PUBLIC,
             responses=LOGIN)
async def token(body: Credentials, request: Request, call: AnonymousCallDep) -> TokenPublic:
    def work(ctx: Context) -> TokenPublic:
        user = _authenticate(ctx, request, body)
        settings = request.app.state.settings
        token = credentials.issue_token(ctx.session, settings, user, ctx.now)
        return TokenPublic(access_token=token,
                           role=user.role)

    return await call(work)


@router.post("/auth/login", response_model=LoginPublic, openapi_extra=PUBLIC,
             responses=LOGIN)
async def login(body: Credentials, request: Request, response: Response,
                call: AnonymousCallDep) -> LoginPublic:
    def work(ctx: Context) -> LoginPublic:
        user = _authenticate(ctx, request, body)
        settings = request.app.state.settings
        value = credentials.session_cookie(settings, user)
        response.set_cookie(credentials.SESSION_COOKIE, value,
                            max_age=settings.session_max_age_seconds,
                            httponly=True, samesite="lax", secure=settings.secure_cookies)
        cookie = credentials.read_session_cookie(settings, value) or {}
        return LoginPublic(role=user.role, csrf_token=credentials.csrf_token(cookie))

    return await call(work)


LOGOUT_NEEDS_CSRF = ("logging out with a session cookie needs its CSRF token in the "
                     "X-CSRF-Token header (the csrf_token that logging in answered); you are "
                     "still logged in")


@router.post("/auth/logout", status_code=204, openapi_extra=PUBLIC)
async def logout(request: Request, call: AnonymousCallDep) -> Response:
    """Log out on the server: a bearer token sent with this request is revoked (it stops
    working at once, not when it expires); a session cookie ends, with every cookie session
    of the user on every device, as the pages' logout does, and is deleted.

    A session cookie that still works must come with its CSRF token (X-CSRF-Token), or the
    logout is refused with 403 and nothing ends. A cookie rides along on requests other
    sites make, so without the token anyone's page could end a person's sessions on every
    device; and merely deleting the browser's cookie would let the caller believe they had
    logged out while a copy of it still worked. So the answer either ends the session on
    the server or says plainly that it did not. A cookie that no longer works is just
    deleted."""
    settings = request.app.state.settings
    cookie = credentials.read_session_cookie(
        settings, request.cookies.get(credentials.SESSION_COOKIE, ""))
    token = bearer_token(request)
    with_token = cookie is not None and credentials.csrf_matches(
        cookie, request.headers.get("x-csrf-token"))

    def work(ctx: Context) -> None:
        if token is not None:
            credentials.revoke_token(ctx.session, token)
        user = credentials.user_for_cookie(ctx.session, cookie) if cookie is not None else None
        if user is not None:
            if not with_token:
                raise ForbiddenError(LOGOUT_NEEDS_CSRF)
            credentials.end_cookie_sessions(ctx.session, user.id or 0)

    if token is not None or cookie is not None:
        await call(work)
    response = Response(status_code=204)
    response.delete_cookie(credentials.SESSION_COOKIE)
    return response


@router.get("/me", response_model=UserPublic)
async def me(call: CallDep) -> UserPublic:
    def work(ctx: Context) -> UserPublic:
        user = access.require_user(ctx.user)
        return UserPublic.model_validate(user, from_attributes=True)

    return await call(work)


@router.get("/me/access-log", response_model=list[OwnAccessPublic])
async def own_access_log(call: CallDep) -> list[OwnAccessPublic]:
    """Patients: who has opened your record, newest first (the last 100)."""
    return await call(access_logs.own_access_log)


@router.post("/me/password", status_code=204, responses=RATE_LIMITED)
async def change_password(body: PasswordChange, request: Request,
                          call: SlowCallDep) -> Response:
    """Change your own password. Every login you have then ends (API tokens and page
    sessions, on every device): log in again with the new password. A wrong current
    password changes nothing and counts as a failed login."""
    await call(lambda ctx: people.change_own_password(
        ctx, request.app.state.settings, client_address(request), body.current_password,
        body.new_password))
    response = Response(status_code=204)
    response.delete_cookie(credentials.SESSION_COOKIE)
    return response


@router.get("/users", response_model=list[UserPublic])
async def staff_accounts(call: CallDep) -> list[UserPublic]:
    """Staff accounts (admins); patients' logins are not listed."""
    return await call(lambda ctx: [UserPublic.model_validate(user, from_attributes=True)
                                   for user in people.staff_accounts(ctx)])


@router.post("/users", response_model=UserPublic, status_code=201)
async def create_user(body: UserCreate, call: SlowCallDep) -> UserPublic:
    return await call(lambda ctx: UserPublic.model_validate(people.create_user(ctx, body),
                                                            from_attributes=True))


@router.patch("/users/{user_id}", response_model=UserPublic)
async def update_user(user_id: Id, body: UserUpdate, call: SlowCallDep) -> UserPublic:
    """Deactivate or reactivate a staff account, or give it a new password (admins).
    Deactivating it or changing its password ends every login it has at once."""
    return await call(lambda ctx: UserPublic.model_validate(
        people.update_staff_account(ctx, user_id, body), from_attributes=True))
