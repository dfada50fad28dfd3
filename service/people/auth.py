"""Logging in: argon2 passwords and the login rate limits (the credentials a login then
carries, tokens and cookies, are core's: service/core/credentials.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, delete, func, select

from service.core.db import is_postgres, transaction
from service.core.errors import LoginRateLimitedError, NotAuthenticatedError
from service.core.settings import Settings
from service.core.tables import LoginAttempt, User

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("carepath-timing-equaliser")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_LOGIN_LOCKS = 7_311_002
"""PostgreSQL advisory lock class (with a hash of the username) for one username's attempts."""


def authenticate(session: Session, settings: Settings, username: str, password: str,
                 client: str, now: datetime) -> User:
    """The active user with these credentials, or NotAuthenticatedError; LoginRateLimitedError,
    without checking the password, once the limits of `_admit_attempt` are reached.

    The attempt is admitted in a short transaction of its own, committed before the password
    is checked: however many attempts arrive at once, no more passwords are checked than the
    limits allow, and a failed one stays counted whatever becomes of `session`. The check
    (argon2: deliberately slow) then holds no lock, so `session` must not have written yet
    (on SQLite the admission waits for the write lock that `session` would hold). A success
    deletes this client's attempts in `session`, with the login it grants. The user is read
    during the admission."""
    with transaction(session.get_bind().engine, write=True) as admission:
        _admit_attempt(admission, settings, username[:100], client[:100], now)
        user = admission.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)  # same cost whether or not the user exists
        ok = False
    else:
        ok = _verify(user.password_hash, password)
    if not ok or user is None:
        raise NotAuthenticatedError("wrong username or password")
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.username) == user.username,
                                            col(LoginAttempt.client) == client[:100]))
    return user


def _admit_attempt(session: Session, settings: Settings, username: str, client: str,
                   now: datetime) -> None:
    """Record a login attempt, or refuse it (LoginRateLimitedError, nothing recorded) once the
    username has had `login_attempts_per_window` attempts from this client address in the
    window, or `login_attempts_per_username` from all addresses. One username's
    attempts are counted and recorded one at a time (SQLite admits one writer at a time; on
    PostgreSQL an advisory lock on the username is held to the commit), so attempts arriving
    together cannot all count the same few."""
    if is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:kind, hashtext(:name))")
                     .bindparams(kind=_LOGIN_LOCKS, name=username))
    start = now - timedelta(seconds=settings.login_window_seconds)
    from_client, from_all = session.exec(
        select(func.count().filter(col(LoginAttempt.client) == client), func.count())
        .where(LoginAttempt.username == username, col(LoginAttempt.at) >= start)).one()
    if (from_client >= settings.login_attempts_per_window
            or from_all >= settings.login_attempts_per_username):
        raise LoginRateLimitedError(settings.login_window_seconds)
    session.add(LoginAttempt(username=username, client=client, at=now))


