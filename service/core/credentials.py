"""Who is calling: bearer tokens (API), signed session cookies (pages), CSRF tokens for form
posts (the login form's too), and ending a person's logins. The unit of work (deps) reads the
caller with these on every request; logging in (passwords, limits) is people's."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session, col, delete

from service.core.settings import Settings
from service.core.statements import Prepared
from service.core.tables import ApiToken, User, from_row

SESSION_COOKIE = "carepath_session"
LOGIN_COOKIE = "carepath_login"
"""The login form's pre-session cookie (see `login_form`)."""
LOGIN_FORM_MAX_AGE_SECONDS = 3600
"""How long a login page's form may wait to be sent; after that it is refused as expired."""
FORM_REFUSED = ("the form has expired or did not come from carepath; reload the page and "
                "submit it again")
"""What a form post without its CSRF token is told."""
# One key signs both cookies; their salts keep either from passing for the other.
_SESSION_SALT = "carepath-session"
_LOGIN_SALT = "carepath-login"


def issue_token(session: Session, settings: Settings, user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id or 0, token_hash=_token_hash(token), created_at=now,
                         expires_at=now + timedelta(seconds=settings.token_max_age_seconds)))
    return token


_USERS: sa.Table = User.__table__  # type: ignore[attr-defined]
_TOKENS: sa.Table = ApiToken.__table__  # type: ignore[attr-defined]
_USER_FOR_TOKEN = Prepared(
    sa.select(_USERS, _TOKENS.c.expires_at.label("token_expires_at"))
    .join(_TOKENS, _TOKENS.c.user_id == _USERS.c.id)
    .where(_TOKENS.c.token_hash == sa.bindparam("token_hash")))


def user_for_token(session: Session, token: str, now: datetime) -> User | None:
    """The user a bearer token belongs to, if it is current (read on every API request:
    one plain query, the user object not tied to a session)."""
    row = _USER_FOR_TOKEN.first(session, {"token_hash": _token_hash(token)})
    if row is None or row["token_expires_at"] < now or not row["active"]:
        return None
    return from_row(User, {column.name: row[column.name] for column in _USERS.c})


def revoke_token(session: Session, token: str) -> None:
    session.exec(delete(ApiToken).where(col(ApiToken.token_hash) == _token_hash(token)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=salt)


def _signed_data(signer: URLSafeTimedSerializer, value: str,
                 max_age: int) -> dict[str, object] | None:
    try:
        data = signer.loads(value, max_age=max_age)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def session_cookie(settings: Settings, user: User) -> str:
    """Signed cookie value: the user id, their session generation and a per-session CSRF
    secret."""
    return _signer(settings, _SESSION_SALT).dumps({
        "uid": user.id, "gen": user.session_generation, "csrf": secrets.token_urlsafe(16)})


def read_session_cookie(settings: Settings, value: str) -> dict[str, object] | None:
    return _signed_data(_signer(settings, _SESSION_SALT), value,
                        settings.session_max_age_seconds)


def login_form(settings: Settings, cookie_value: str) -> tuple[str, str]:
    """The login form's CSRF token and the value of its pre-session cookie, which holds the
    token signed (login CSRF: else a form on another site could log a browser into the
    sender's account, and what the victim then entered would be the sender's to read). A
    current cookie keeps its token, so a login page open in another tab still works; it is
    signed afresh, so its time starts again."""
    token = csrf_token(read_login_cookie(settings, cookie_value) or {})
    token = token or secrets.token_urlsafe(16)
    return token, _signer(settings, _LOGIN_SALT).dumps({"csrf": token})


def read_login_cookie(settings: Settings, value: str) -> dict[str, object] | None:
    return _signed_data(_signer(settings, _LOGIN_SALT), value, LOGIN_FORM_MAX_AGE_SECONDS)


def user_for_cookie(session: Session, cookie: dict[str, object]) -> User | None:
    """The active user a (verified) session cookie belongs to, unless they have logged out
    since it was issued (see `end_cookie_sessions`)."""
    user = session.get(User, cookie.get("uid"))
    if user is None or not user.active or cookie.get("gen", 0) != user.session_generation:
        return None
    return user


def end_cookie_sessions(session: Session, user_id: int) -> None:
    """Logging out: every session cookie issued to the user so far stops working, on every
    device (the server keeps no list of cookies; each carries the generation it was issued
    in)."""
    session.exec(sa.update(User).where(col(User.id) == user_id)
                 .values(session_generation=User.session_generation + 1))


def end_logins(session: Session, user_id: int) -> None:
    """Every login the user has ends now: their API tokens are revoked and their cookie
    sessions end, on every device (an account deactivated, or its password changed)."""
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user_id))
    end_cookie_sessions(session, user_id)


def csrf_token(cookie: dict[str, object]) -> str:
    return str(cookie.get("csrf", ""))


def csrf_matches(cookie: dict[str, object], submitted: str | None) -> bool:
    expected = csrf_token(cookie)
    return bool(expected) and submitted is not None and hmac.compare_digest(expected, submitted)
