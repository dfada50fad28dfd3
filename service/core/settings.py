"""Infrastructure settings, read from the environment (CAREPATH_*); clinical settings live in
each model bundle's pathway.toml instead."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pathways.content import REFERENCE_BUNDLE

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREPATH_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    """Only development accepts the default secret (and loads the demo); production refuses
    to start without a secret of its own."""
    database_url: str = f"sqlite:///{ROOT / 'var' / 'carepath.sqlite3'}"
    """SQLite (embedded, default) or postgresql+psycopg://user:pass@host/db."""
    database_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """How long a request waits for the database before it answers 503: on SQLite for
    another program's write lock (SQLite's busy timeout), on PostgreSQL to connect and for a
    free connection of the pool."""
    secret_key: str = DEFAULT_SECRET
    """Signs session cookies and CSRF tokens."""
    audit_key: str | None = None
    """Keys the event log's hash chain (HMAC-SHA256) and signs its checkpoints; kept out of
    the database, so whoever can write to the database cannot forge the log. Development
    derives one from `secret_key` when it is unset; production refuses to start without one
    of its own. Changing it makes every event written before fail verification."""
    audit_checkpoints: Path | None = None
    """The append-only file of signed checkpoints of the log's head (`checkpoint_file`)."""
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0)
    """How often the timer worker adds a checkpoint, when the log has grown since the last."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1, le=64)
    """Server processes; several share the port (SO_REUSEPORT) and the database."""
    threads: int | None = Field(default=None, ge=0, le=64)
    """Threads per server process running requests' work, 0 for none: the work then runs on
    the event loop itself. Default 0 on SQLite, 4 on PostgreSQL (see `unit_threads`). Slow
    work such as password hashing has threads of its own."""
    reference_bundle: Path = REFERENCE_BUNDLE
    """Model bundle deployed at first start when no model version exists."""
    node_modules: Path = ROOT / "node_modules"
    """Where `npm ci` put the pages' browser libraries (package.json). A wheel does not carry
    them: an installed carepath needs this set to serve its pages and /docs in full."""
    whatif_max_patients: int = Field(default=10_000, ge=1, le=100_000)
    """The most patients one what-if run may simulate (each run uses every core while it
    lasts)."""
    embedded_worker: bool = True
    """Run the timer sweep inside the server (one-command embedded mode)."""
    worker_interval_seconds: float = 5.0
    session_max_age_seconds: int = 8 * 3600
    token_max_age_seconds: int = 12 * 3600
    login_attempts_per_window: int = Field(default=5, ge=1)
    """Password checks per username and client address per window."""
    login_attempts_per_username: int = Field(default=20, ge=1)
    """Password checks per username from all addresses together per window: guessing spread
    over many addresses is still capped, and a flood from one address (which uses up only its
    own share) leaves the person free to log in from theirs until this many are made."""
    login_window_seconds: int = 300
    self_referrals_per_window: int = 10
    """Self-referrals (public: no login needed) accepted from one client address per window."""
    self_referral_window_seconds: int = 3600
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    """The largest request body (JSON, forms) accepted; a larger one is refused with 413
    before it is read. Model uploads have their own limit (10 MB, the files together)."""
    secure_cookies: bool = False
    """Set true behind HTTPS so cookies carry the Secure flag."""
    export_key: str | None = None
    """Keys the pseudonyms in auditors' exports (HMAC-SHA256 of each patient, episode and
    user id). Unset: in development a key derived from `secret_key`; in production the
    exports are refused until it is set. Changing it changes every pseudonym, so exports made
    with different keys cannot be linked."""
    time_zone: str = "Europe/Stockholm"
    """The clinic's time zone (an IANA name): pages show local times and "today" is the
    clinic's day; the API and the database stay in UTC."""

    base_url: str = "http://127.0.0.1:8000"
    """Where people reach carepath: the links in emails and in the calendar feed start with
    it (e.g. https://carepath.example.org)."""
    smtp_host: str | None = None
    """The mail server reminders are sent through; unset, no email is sent at all (the
    reminder sweep then does nothing)."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    """How the connection to the mail server is protected: `starttls` (port 587), `tls`
    (implicit TLS, port 465) or `none` (a relay on the same machine only)."""
    smtp_username: str | None = None
    """Login at the mail server (none: send without logging in)."""
    smtp_password: str | None = None
    smtp_sender: str = "carepath <no-reply@localhost>"
    """The From address of every email."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"CAREPATH_TIME_ZONE must be an IANA time zone such as "
                             f"Europe/Stockholm, got {value!r}") from None
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.mode != "development" and (self.secret_key == DEFAULT_SECRET
                                           or len(self.secret_key) < 32):
            raise ValueError("CAREPATH_SECRET_KEY must be set to a random value of at least "
                             "32 characters in production (e.g. `python -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))'`)")
        if self.mode != "development" and (self.audit_key is None or len(self.audit_key) < 32
                                           or self.audit_key == self.secret_key):
            raise ValueError("CAREPATH_AUDIT_KEY must be set in production to a random value "
                             "of at least 32 characters, not the secret key, and kept as "
                             "long as the event log (it verifies every event)")
        return self

    @field_validator("export_key")
    @classmethod
    def _long_export_key(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("CAREPATH_EXPORT_KEY must be a random value of at least 32 "
                             "characters (a short key lets pseudonyms be guessed)")
        return value

    @property
    def log_key(self) -> bytes:
        """The event log's HMAC key: `audit_key`, or in development one derived from the
        secret key (a different purpose, so a different key)."""
        if self.audit_key is not None:
            return self.audit_key.encode()
        return hmac.digest(self.secret_key.encode(), b"carepath event log", hashlib.sha256)

    @property
    def checkpoint_file(self) -> Path | None:
        """`audit_checkpoints`, by default beside the SQLite database file, or
        var/audit-checkpoints.jsonl for PostgreSQL; None for an in-memory database."""
        if self.audit_checkpoints is not None:
            return self.audit_checkpoints
        if not self.is_sqlite:
            return ROOT / "var" / "audit-checkpoints.jsonl"
        path = self.database_url.split("///", 1)[-1]
        if not path or path == ":memory:" or "///" not in self.database_url:
            return None
        return Path(path).with_name(Path(path).name + ".checkpoints.jsonl")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def unit_threads(self) -> int:
        """Threads per process for units of work (`deps.Call`); 0 runs them on the event loop.

        Python runs one thread of a process at a time, so threads add speed only where work
        waits outside Python. SQLite writes one transaction at a time, and a second thread
        only makes the writer wait for Python's lock while it holds SQLite's, which keeps
        every other writer waiting too; with work this short even one thread's hand-over
        costs more than it gives, so the default is none. PostgreSQL statements wait on the
        network, so a few threads overlap them. The measurements: docs/benchmarks.md."""
        if self.threads is not None:
            return self.threads
        return 0 if self.is_sqlite else 4


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; tests build their own `Settings` and pass them in."""
    return Settings()
