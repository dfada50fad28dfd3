"""Who is calling: argon2 passwords, bearer tokens (API), signed session cookies (pages),
CSRF tokens for form posts, and login rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session, col, delete, func, select

from .errors import LoginRateLimitedError, NotAuthenticatedError
from .settings import Settings
from .statements import Prepared
from .tables import ApiToken, LoginAttempt, User, from_row

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("carepath-timing-equaliser")
SESSION_COOKIE = "carepath_session"


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, settings: Settings, username: str, password: str,
                 client: str, now: datetime, reader: Session | None = None) -> User:
    """The active user with these credentials, or NotAuthenticatedError; failures are counted
    per username and client, and too many in the window are refused before checking.

    `reader`: a read-only snapshot to read the user and the failures from, so that checking
    the password (argon2: deliberately slow) happens before `session` writes anything, and
    so outside SQLite's write lock."""
    reads = reader or session
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    failures = reads.exec(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.username == username, LoginAttempt.at >= window_start)
    ).one()
    if failures >= settings.login_attempts_per_window:
        raise LoginRateLimitedError(settings.login_window_seconds)
    user = reads.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)  # same cost whether or not the user exists
        ok = False
    else:
        ok = _verify(user.password_hash, password)
    if not ok or user is None:
        session.add(LoginAttempt(username=username[:100], client=client[:100], at=now))
        raise NotAuthenticatedError("wrong username or password")
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.username) == username))
    return user


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


def _cookie_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="carepath-session")


def session_cookie(settings: Settings, user: User) -> str:
    """Signed cookie value: the user id, their session generation and a per-session CSRF
    secret."""
    return _cookie_serializer(settings).dumps({"uid": user.id, "gen": user.session_generation,
                                               "csrf": secrets.token_urlsafe(16)})


def read_session_cookie(settings: Settings, value: str) -> dict[str, object] | None:
    try:
        data = _cookie_serializer(settings).loads(value, max_age=settings.session_max_age_seconds)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


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
    session.exec(sa.update(User).where(col(User.id) == user_id)  # type: ignore[call-overload]
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
