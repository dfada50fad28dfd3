"""Who may call what, as data: the roles, whose names each may read, and the policy rows.

`POLICY` is the access policy as data: one row per route (and per kind of resource a route
acts on) naming the roles that get an answer (2xx, or a page's 3xx). Everybody else is
refused: 401 when nobody is logged in (pages: a redirect to the login page), 403 or 404
otherwise; a refusal changes nothing and shows no patient the caller may not see. A route
the app serves without a row here fails
`test_every_route_of_the_app_has_a_row_in_the_access_policy`, so a new route (API or page)
cannot slip in unchecked. API rows are called with a bearer token, page rows with the
session cookie of a page login.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ROLES: dict[str, str | None] = {
    # role in the matrix -> who is logged in
    "anonymous": None,
    "patient_A": "anna",
    "patient_B": "bertil",
    "physio": "physio",            # north, like patients A and B
    "southphysio": "southphysio",  # another clinic
    "clinic_lead": "lead",         # north
    "manager": "manager",
    "auditor": "auditor",
    "admin": "admin",
}

ANNA, BERTIL, SVEN = "Anna Andersson", "Bertil Berg", "Sven Svensson"
WAITING_FOR_SPECIALIST = ("Cecilia Carlsson", "Clara Carlsson")
NORTH = frozenset({ANNA, BERTIL, *WAITING_FOR_SPECIALIST})
EVERY_PATIENT = NORTH | {SVEN}
SEES: dict[str, frozenset[str]] = {
    # whose names a role may ever read in an answer
    "anonymous": frozenset(),
    "patient_A": frozenset({ANNA}),
    "patient_B": frozenset({BERTIL}),
    "physio": NORTH,
    "southphysio": frozenset({SVEN}),
    "clinic_lead": NORTH,
    "manager": frozenset(),
    "auditor": frozenset(),
    "admin": frozenset(),
}

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
WITH_A_WORKLIST = frozenset({"patient_A", "patient_B", "physio", "southphysio", "clinic_lead"})
CLINICIANS = frozenset({"physio", "southphysio", "clinic_lead"})
ANNAS_CARE = frozenset({"patient_A", "physio", "clinic_lead"})
PATIENTS = frozenset({"patient_A", "patient_B"})

# Outcomes. Pages answer "log in first" with a redirect to the login page.
ANSWERED, NEEDS_LOGIN, REFUSED = "answered (2xx/3xx)", "needs login (401)", "refused (403/404)"
INVALID = "nothing to do for this caller (422)"

# What a row acts on (fills the path's {placeholders}).
A_EPISODE = "patient A's episode"
A_PATIENT_TASK = "patient A's patient task"
A_PHYSIO_TASK = "patient A's physiotherapist task"
LEAD_TASK = "a north clinic lead task"
ACTIVE_MODEL = "the active model version"
VENDOR_ASSET = "a vendored browser library"
STYLESHEET = "the stylesheet"
SPARE_ACCOUNT = "another physiotherapist's account"
AN_EXERCISE = "an exercise with a picture"
AN_INDICATOR = "an adherence indicator"
A_DRAFT = "a model draft (a fresh copy of the active version for each call)"
A_OPT_OUT = "patient A's opt-out link from a reminder email"
A_CALENDAR = "patient A's private calendar link (a fresh one for each call)"
A_MESSAGE = "a message patient A wrote (a fresh one for each call)"
A_WHATIF = "a finished what-if run of the active version (a fresh small one for each call)"


@dataclass(frozen=True, eq=False)
class Row:
    method: str
    path: str
    allowed: frozenset[str]
    target: str = ""
    body: str = ""
    """Which request body to send (see `Scene.body`); empty: none."""
    via: str = "api"
    """api: called with a bearer token; page: with the session cookie of a page login."""
    anonymous: str = NEEDS_LOGIN
    """What the anonymous caller gets when not allowed."""
    others: dict[str, str] = field(default_factory=dict)
    """Outcomes for particular roles that differ from a refusal (e.g. nothing to do)."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f" <{self.target}>" if self.target else "")


def _task_rows(target: str, allowed: Iterable[str]) -> list[Row]:
    allowed = frozenset(allowed)
    return [Row("GET", "/api/tasks/{task_id}", allowed, target),
            Row("POST", "/api/tasks/{task_id}/claim", allowed, target),
            Row("POST", "/api/tasks/{task_id}/release", allowed, target),
            Row("POST", "/api/tasks/{task_id}/complete", allowed, target, "task answers")]


POLICY: list[Row] = [
    # Public: health, API docs, clinics to self-refer to, logging in and out.
    Row("GET", "/healthz", EVERYONE),
    Row("GET", "/openapi.json", EVERYONE),
    Row("GET", "/docs", EVERYONE),
    Row("GET", "/api/clinics", EVERYONE),
    Row("POST", "/api/self-referrals", EVERYONE, body="self-referral"),
    # Each role logs in with its own credentials; the anonymous caller has none to give.
    Row("POST", "/api/auth/token", SIGNED_IN, body="own credentials"),
    Row("POST", "/api/auth/login", SIGNED_IN, body="own credentials"),
    Row("POST", "/api/auth/logout", EVERYONE),
    Row("GET", "/api/me", SIGNED_IN),
    # Everyone changes their own password (which ends their logins: the scene logs them in
    # again).
    Row("POST", "/api/me/password", SIGNED_IN, body="own password, unchanged"),
    # Patients see who has opened their own record.
    Row("GET", "/api/me/access-log", PATIENTS),
    # Patients set their own reminders (staff have none).
    Row("GET", "/api/me/reminders", PATIENTS),
    Row("PUT", "/api/me/reminders", PATIENTS, body="reminder settings"),
    Row("POST", "/account/reminders", PATIENTS, body="page reminder settings", via="page",
        anonymous=REFUSED),
    Row("POST", "/account/calendar", PATIENTS, body="the CSRF token, as a form", via="page",
        anonymous=REFUSED),
    # Links that work without logging in, for whoever holds their secret (an email's opt-out
    # link, a calendar program): the secret is the key (a wrong one: 404, in test_nudges).
    Row("GET", "/reminders/unsubscribe/{patient_id}/{token}", EVERYONE, A_OPT_OUT, via="page"),
    Row("POST", "/reminders/unsubscribe/{patient_id}/{token}", EVERYONE, A_OPT_OUT,
        via="page"),
    Row("GET", "/calendar/{token}.ics", EVERYONE, A_CALENDAR, via="page"),
    # Admins list, create, deactivate and reactivate accounts; nobody else.
    Row("GET", "/api/users", frozenset({"admin"})),
    Row("POST", "/api/users", frozenset({"admin"}), body="new user"),
    Row("PATCH", "/api/users/{user_id}", frozenset({"admin"}), SPARE_ACCOUNT,
        body="deactivate"),
    # Clinicians refer patients to their own clinic.
    Row("POST", "/api/referrals", CLINICIANS, body="referral"),
    # A FHIR referral Bundle, likewise (the bundle is read only for those who may refer).
    Row("POST", "/api/fhir/referrals", CLINICIANS, body="fhir referral"),
    # Lists are filtered to what the caller may see (checked by names below).
    Row("GET", "/api/episodes", WITH_A_WORKLIST),
    Row("GET", "/api/tasks", WITH_A_WORKLIST),
    # Patient A's episode: Anna herself and the clinicians of her clinic.
    Row("GET", "/api/episodes/{episode_id}", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/timeline", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/questionnaires", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/self-management-plan", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/exercise-logs", ANNAS_CARE, A_EPISODE),
    Row("POST", "/api/episodes/{episode_id}/exercise-logs", ANNAS_CARE, A_EPISODE,
        "exercise log"),
    Row("GET", "/api/episodes/{episode_id}/education", ANNAS_CARE, A_EPISODE),
    # Anna's clinicians give her login a new password (she must then log in again).
    Row("POST", "/api/episodes/{episode_id}/patient-password",
        frozenset({"physio", "clinic_lead"}), A_EPISODE, "patient password"),
    # Reading education is a patient task: only Anna confirms she has read her module.
    Row("POST", "/api/episodes/{episode_id}/education/{module}/confirm",
        frozenset({"patient_A"}), A_EPISODE, "check answers"),
    # Tasks: patients do their own patient tasks; physiotherapists (and leads) the
    # physiotherapist tasks of their clinic; only clinic leads the clinic lead tasks.
    *_task_rows(A_PATIENT_TASK, {"patient_A"}),
    *_task_rows(A_PHYSIO_TASK, {"physio", "clinic_lead"}),
    *_task_rows(LEAD_TASK, {"clinic_lead"}),
    # Managers deploy models; auditors read the event log.
    Row("GET", "/api/models", frozenset({"manager"})),
    Row("POST", "/api/models", frozenset({"manager"}), body="reference bundle"),
    Row("GET", "/api/models/{version_id}/files", frozenset({"manager"}), ACTIVE_MODEL),
    # The managers' pages: the model library and a version's bundle.
    Row("GET", "/models", frozenset({"manager"}), via="page"),
    Row("GET", "/models/{version_id}/bundle.zip", frozenset({"manager"}), ACTIVE_MODEL,
        via="page"),
    # The managers' drafts, diffs and migrations.
    Row("GET", "/api/models/drafts", frozenset({"manager"})),
    Row("POST", "/api/models/drafts", frozenset({"manager"}), body="new draft"),
    Row("GET", "/api/models/drafts/{draft_id}", frozenset({"manager"}), A_DRAFT),
    Row("DELETE", "/api/models/drafts/{draft_id}", frozenset({"manager"}), A_DRAFT),
    Row("PUT", "/api/models/drafts/{draft_id}/files/{name:path}", frozenset({"manager"}),
        A_DRAFT, body="draft file"),
    Row("DELETE", "/api/models/drafts/{draft_id}/files/{name:path}", frozenset({"manager"}),
        A_DRAFT),
    Row("POST", "/api/models/drafts/{draft_id}/upload", frozenset({"manager"}), A_DRAFT,
        body="draft upload"),
    Row("GET", "/api/models/drafts/{draft_id}/problems", frozenset({"manager"}), A_DRAFT),
    Row("POST", "/api/models/drafts/{draft_id}/deploy", frozenset({"manager"}), A_DRAFT),
    Row("GET", "/api/models/{old_id}/diff/{new_id}", frozenset({"manager"}), ACTIVE_MODEL),
    Row("POST", "/api/models/migrations", frozenset({"manager"}), ACTIVE_MODEL,
        body="dry run"),
    Row("POST", "/models/drafts", frozenset({"manager"}), ACTIVE_MODEL, body="page new draft",
        via="page", anonymous=REFUSED),
    Row("GET", "/models/drafts/{draft_id}", frozenset({"manager"}), A_DRAFT, via="page"),
    Row("GET", "/models/{old_id}/diff/{new_id}", frozenset({"manager"}), ACTIVE_MODEL,
        via="page"),
    Row("GET", "/models/{version_id}/migrate", frozenset({"manager"}), ACTIVE_MODEL,
        via="page"),
    # A version's analytics (where its patients wait): managers, like the diagrams it needs.
    Row("GET", "/api/models/{version_id}/analytics", frozenset({"manager"}), ACTIVE_MODEL),
    Row("GET", "/api/models/{version_id}/analytics.csv", frozenset({"manager"}),
        ACTIVE_MODEL),
    Row("GET", "/models/{version_id}/analytics", frozenset({"manager"}), ACTIVE_MODEL,
        via="page"),
    Row("POST", "/models/{version_id}/migrate", frozenset({"manager"}), ACTIVE_MODEL,
        body="page dry run", via="page", anonymous=REFUSED),
    # What-if runs (managers): start one for a draft or a version, follow it, cancel it, and
    # fetch its comparison; the pages' twins.
    Row("POST", "/api/models/drafts/{draft_id}/whatif", frozenset({"manager"}), A_DRAFT,
        body="what-if"),
    Row("POST", "/api/models/{version_id}/whatif", frozenset({"manager"}), ACTIVE_MODEL,
        body="what-if"),
    Row("GET", "/api/models/whatif/{job_id}", frozenset({"manager"}), A_WHATIF),
    Row("POST", "/api/models/whatif/{job_id}/cancel", frozenset({"manager"}), A_WHATIF),
    Row("GET", "/api/models/whatif/{job_id}/comparison.csv", frozenset({"manager"}), A_WHATIF),
    Row("GET", "/models/drafts/{draft_id}/whatif", frozenset({"manager"}), A_DRAFT,
        via="page"),
    Row("POST", "/models/drafts/{draft_id}/whatif", frozenset({"manager"}), A_DRAFT,
        body="page what-if", via="page", anonymous=REFUSED),
    Row("GET", "/models/{version_id}/whatif", frozenset({"manager"}), ACTIVE_MODEL,
        via="page"),
    Row("POST", "/models/{version_id}/whatif", frozenset({"manager"}), ACTIVE_MODEL,
        body="page what-if", via="page", anonymous=REFUSED),
    Row("GET", "/models/whatif/{job_id}", frozenset({"manager"}), A_WHATIF, via="page"),
    Row("POST", "/models/whatif/{job_id}/cancel", frozenset({"manager"}), A_WHATIF,
        body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    Row("GET", "/audit", frozenset({"auditor"}), via="page"),
    Row("GET", "/audit/log", frozenset({"auditor"}), via="page"),
    Row("GET", "/audit/conformance", frozenset({"auditor"}), via="page"),
    Row("GET", "/audit/indicators/{indicator}", frozenset({"auditor"}), AN_INDICATOR,
        via="page"),
    Row("GET", "/api/audit/events", frozenset({"auditor"})),
    Row("GET", "/api/audit/verify", frozenset({"auditor"})),
    Row("GET", "/api/audit/checkpoints", frozenset({"auditor"})),
    Row("GET", "/api/audit/access", frozenset({"auditor"})),
    Row("GET", "/api/audit/indicators", frozenset({"auditor"})),
    # Auditors' exports (pseudonymised: the rows call them without identifiable=true).
    Row("GET", "/api/audit/exports/events.csv", frozenset({"auditor"})),
    Row("GET", "/api/audit/exports/events.jsonl", frozenset({"auditor"})),
    Row("GET", "/api/audit/exports/events.xes", frozenset({"auditor"})),
    Row("GET", "/api/audit/exports/indicators.csv", frozenset({"auditor"})),
    Row("GET", "/api/audit/exports/indicators.jsonl", frozenset({"auditor"})),
    Row("GET", "/api/audit/exports/access-log.fhir.json", frozenset({"auditor"})),
    Row("GET", "/api/audit/exports/dictionary", frozenset({"auditor"})),
    Row("GET", "/api/audit/conformance", frozenset({"auditor"})),
    # Pages, with a cookie session. Home sends everyone on: to their page or to log in.
    Row("GET", "/", EVERYONE, via="page"),
    Row("GET", "/login", EVERYONE, via="page"),
    Row("POST", "/login", SIGNED_IN, body="own credentials, as a form", via="page"),
    # Logging out is a form post: it needs the session's CSRF token, so without a session
    # it is refused rather than sent to log in.
    Row("POST", "/logout", SIGNED_IN, body="the CSRF token, as a form", via="page",
        anonymous=REFUSED),
    # One's account: changing one's password ends all one's logins (the scene logs in again).
    Row("GET", "/account", SIGNED_IN, via="page"),
    Row("POST", "/account", SIGNED_IN, body="page own password, unchanged", via="page",
        anonymous=REFUSED),
    # Admins' page: staff accounts, as /api/users.
    Row("GET", "/staff", frozenset({"admin"}), via="page"),
    Row("POST", "/staff", frozenset({"admin"}), body="page new staff account", via="page",
        anonymous=REFUSED),
    Row("GET", "/static/vendor/{name}", EVERYONE, VENDOR_ASSET, via="page"),
    Row("GET", "/static/{path}", EVERYONE, STYLESHEET, via="page"),
    # Patient pages and their JSON twins: each patient sees their own episode only.
    Row("GET", "/api/today", PATIENTS),
    Row("GET", "/api/progress", PATIENTS),
    Row("GET", "/today", PATIENTS, via="page"),
    Row("GET", "/progress", PATIENTS, via="page"),
    Row("GET", "/exercise", PATIENTS, via="page"),
    Row("POST", "/exercise", frozenset({"patient_A"}), body="page exercise log", via="page",
        anonymous=REFUSED, others={"patient_B": INVALID}),
    Row("GET", "/education/{module}", frozenset({"patient_A"}), A_EPISODE, via="page"),
    # Exercise pictures are the same for everyone in care: any patient, any clinician (an
    # <img> gets a 401, not a login redirect, when nobody is logged in).
    Row("GET", "/exercise-illustrations/{exercise_id}", PATIENTS | CLINICIANS, AN_EXERCISE,
        via="page"),
    Row("POST", "/education/{module}", frozenset({"patient_A"}), A_EPISODE,
        body="page check answers", via="page", anonymous=REFUSED),
    Row("GET", "/questionnaire/{task_id}", frozenset({"patient_A"}), A_PATIENT_TASK,
        via="page"),
    Row("POST", "/questionnaire/{task_id}", frozenset({"patient_A"}), A_PATIENT_TASK,
        body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    # Clinician pages: the clinic's patients and the role's tasks.
    Row("GET", "/worklist", CLINICIANS, via="page"),
    Row("GET", "/worklist/rows", CLINICIANS, via="page"),
    Row("GET", "/patients/{episode_id}", frozenset({"physio", "clinic_lead"}), A_EPISODE,
        via="page"),
    Row("GET", "/patients/{episode_id}/diagram.bpmn", frozenset({"physio", "clinic_lead"}),
        A_EPISODE, via="page"),
    Row("POST", "/patients/{episode_id}/password", frozenset({"physio", "clinic_lead"}),
        A_EPISODE, body="page patient password", via="page", anonymous=REFUSED),
    Row("GET", "/api/episodes/{episode_id}/summary", frozenset({"physio", "clinic_lead"}),
        A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/fhir", frozenset({"physio", "clinic_lead"}),
        A_EPISODE),
    Row("GET", "/tasks/{task_id}", frozenset({"physio", "clinic_lead"}), A_PHYSIO_TASK,
        via="page"),
    Row("POST", "/tasks/{task_id}", frozenset({"physio", "clinic_lead"}), A_PHYSIO_TASK,
        body="page task answers", via="page", anonymous=REFUSED),
    Row("POST", "/tasks/{task_id}/claim", frozenset({"physio", "clinic_lead"}), A_PHYSIO_TASK,
        body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    Row("POST", "/tasks/{task_id}/release", frozenset({"physio", "clinic_lead"}),
        A_PHYSIO_TASK, body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    Row("POST", "/tasks/{task_id}/warnings", frozenset({"physio", "clinic_lead"}),
        A_PHYSIO_TASK, body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    # Messages: patient A's thread is Anna's and her clinic's staff's; a call back is staff's.
    Row("GET", "/api/episodes/{episode_id}/messages", ANNAS_CARE, A_EPISODE),
    Row("POST", "/api/episodes/{episode_id}/messages", ANNAS_CARE, A_EPISODE, body="message"),
    Row("POST", "/api/messages/{message_id}/call-back", frozenset({"physio", "clinic_lead"}),
        A_MESSAGE),
    Row("GET", "/messages", PATIENTS, via="page"),
    Row("POST", "/messages", PATIENTS, body="page message", via="page", anonymous=REFUSED),
    Row("POST", "/patients/{episode_id}/messages", frozenset({"physio", "clinic_lead"}),
        A_EPISODE, body="page message", via="page", anonymous=REFUSED),
    Row("POST", "/messages/{message_id}/call-back", frozenset({"physio", "clinic_lead"}),
        A_MESSAGE, body="the CSRF token, as a form", via="page", anonymous=REFUSED),
]
