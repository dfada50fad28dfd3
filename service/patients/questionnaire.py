"""Questionnaire steps for patients: one question per screen, answers kept as a draft, a
review before sending. The routes are in patient.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pathways.errors import FieldError, FormValidationError
from pathways.forms import validate_submission
from service.care import psfs as psfs_activities
from service.care import service as episodes
from service.core.context import Context
from service.core.forms import FormField, fields_for, parse_form, store_at, value_at
from service.patients import drafts as patient_forms
from service.patients import wording

SENT = {
    "safety": "Thank you. Your answers to the safety questions have been sent.",
    "safety_flag": "Thank you. Some of your answers need a clinician to look at them before "
                   "you go on.",
    "emergency": "Your answers have been sent to your clinic.",
    "questionnaire": "Thank you. Your answers have been sent.",
    "check_in_progress": "Thank you for checking in. Each exercise that went well has moved up "
                         "a small step (where there is one): the levels below are your new "
                         "ones.",
    "check_in_hold": "Thank you for checking in. Your exercises stay at the levels below for "
                     "the coming week.",
    "check_in_hold_alert": "Thank you for checking in. The exercises that caused pain stay where "
                           "they are for now, and your physiotherapist has been told.",
    "check_in_regress": "Thank you for checking in. Some exercises have moved down a step: "
                        "the levels below are your new ones.",
    "check_in_regress_alert": "Thank you for checking in. The exercises that caused trouble "
                              "two weeks running have moved down a step, and your "
                              "physiotherapist has been told.",
}
"""Thank-you messages by key: the query string names one, it never carries text."""

# --------------------------------------------------------------------------- questionnaire steps

SCALE_WORDS: dict[str, dict[int, str]] = {
    "start_back.SB9": {0: "Not at all", 1: "Slightly", 2: "Moderately", 3: "Very much",
                       4: "Extremely"},
    "start_back.SB": {0: "No", 1: "Yes"},  # the items are asked as questions (wording.py)
    "proms.disability.": {0: "No limitation", 5: "The most limitation"},
    "proms.pseq.": {0: "Not at all confident", 6: "Completely confident"},
    "proms.psfs.": {0: "Unable to do it", 10: "Able to do it as before"},
    "proms.pain_nrs": {0: "No pain", 10: "Worst pain imaginable"},
    "week_pain_nrs": {0: "No pain", 10: "Worst pain imaginable"},
}
"""Scale ends in our own words, after the scale notes in pathways/instruments/catalogue.py
(the published item wording is licensed and never stored). Longest matching prefix wins."""
HINTS: dict[str, str] = {
    "red_flags.": "Answer Yes if this applies to you now.",
    "start_back.": "Think about the last 2 weeks.",
    "proms.disability.": "How much does your back pain limit this part of your life today? "
                         "You can skip it if it does not apply to you.",
    "proms.pseq.": "How confident are you that you can do this now, despite the pain?",
    "proms.psfs_activities.": "Name an activity that your back pain makes hard to do, in your "
                              "own words (for example carrying shopping or sitting through a "
                              "film). Name at least 3; the last 2 are optional. Later "
                              "questionnaires ask about the same activities.",
    "proms.psfs.": "How well can you do this activity now?",
    "sessions_done": "We have filled in the sessions you logged on carepath since the week "
                     "began. Change the number only if you exercised without logging it.",
}


@dataclass(frozen=True)
class Choice:
    value: str
    text: str
    checked: bool


@dataclass(frozen=True)
class ReviewItem:
    step: int
    """The question's step (0: a problem with no single question)."""
    group: str | None
    label: str
    answer: str
    missing: bool = False
    error: str = ""


@dataclass(frozen=True)
class QuestionPage:
    task_id: str
    title: str
    step: int
    total: int
    question: FormField | None
    """None on the last step: review and send."""
    control: str = ""
    """radio, scale (numbers in a grid), checkbox, number, text or textarea."""
    choices: list[Choice] = field(default_factory=list)
    hint: str = ""
    scale_note: str = ""
    error: str = ""
    raw: str = ""
    then: str = ""
    review: list[ReviewItem] = field(default_factory=list)
    problems: list[ReviewItem] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return 100 if self.question is None else round(100 * (self.step - 1) / self.total)


def _by_prefix(table: dict[str, Any], name: str) -> Any:
    keys = sorted((k for k in table if name.startswith(k)), key=len, reverse=True)
    return table[keys[0]] if keys else None


def _scale(f: FormField) -> list[int]:
    if f.kind not in ("integer", "number") or f.minimum is None or f.maximum is None:
        return []
    low, high = f.minimum, f.maximum
    if not (float(low).is_integer() and float(high).is_integer() and 0 < high - low <= 10):
        return []
    return list(range(int(low), int(high) + 1))


def _control(f: FormField) -> tuple[str, list[Choice]]:
    """Radio buttons wherever the answers can be listed: easier to tap than to type."""
    if f.kind == "boolean":
        return "radio", [Choice("true", "Yes", f.value is True),
                         Choice("false", "No", f.value is False)]
    if f.kind in ("choice", "choices"):
        chosen = f.value if isinstance(f.value, list) else [f.value]
        return ("radio" if f.kind == "choice" else "checkbox",
                [Choice(v, t, v in chosen) for v, t in f.options])
    if scale := _scale(f):
        words = _words(f)
        if all(n in words for n in scale):  # every answer has words: a list of them
            return "radio", [Choice(str(n), words[n], _same_number(f.value, n)) for n in scale]
        return "scale", [Choice(str(n), str(n), _same_number(f.value, n)) for n in scale]
    if f.kind in ("integer", "number"):
        return "number", []
    return ("textarea" if f.kind in ("textarea", "list") else "text"), []


def _words(f: FormField) -> dict[int, str]:
    words: dict[int, str] = _by_prefix(SCALE_WORDS, f.name) or {}
    return words


def scale_note(f: FormField) -> str:
    """What the ends of a number scale mean, e.g. "0 = No pain, 10 = Worst pain imaginable"."""
    return ", ".join(f"{n} = {text}" for n, text in sorted(_words(f).items()))


def _same_number(value: Any, n: int) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == n


def _answer_text(f: FormField) -> str:
    if f.value == [] and f.kind == "choices" and f.required:
        return "None of them"
    if f.value is None or f.value == []:
        return "Not answered" if f.required else "Skipped"
    control, choices = _control(f)
    if control == "scale":
        words = _words(f)
        return _as_text(f.value) + (f" ({words[int(f.value)]})" if f.value in words else "")
    if choices:
        return ", ".join(c.text for c in choices if c.checked) or str(f.value)
    if isinstance(f.value, list):
        return "; ".join(str(v) for v in f.value)
    return _as_text(f.value)


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _hint(f: FormField) -> str:
    return str(_by_prefix(HINTS, f.name) or "")


def _answers(ctx: Context, opened: patient_forms.FormTask) -> dict[str, Any]:
    """The draft, with what carepath already knows filled in where the patient has not
    answered: a question's `default` (the check-in's sessions, counted from the exercise
    logs by service/care/forms.py). The patient sees it, and can change it, on the review."""
    data = patient_forms.load_draft(ctx, opened.task.task_id)
    for name, prop in opened.schema.get("properties", {}).items():
        if isinstance(prop, dict) and "default" in prop and name not in data:
            data[name] = prop["default"]
    return data


def _fields(opened: patient_forms.FormTask, data: dict[str, Any]) -> list[FormField]:
    """The form's questions with the answers so far, as the patient is asked them (headings
    and questions in everyday words). On the intake, the PSFS ratings are asked by the names
    the patient has just given their activities."""
    schema = opened.schema
    if psfs_activities.asks_for_names(schema):
        schema = psfs_activities.with_activity_names(
            schema, psfs_activities.activity_names(data))
    fields = fields_for(schema, data)
    for f in fields:  # the patient is asked in everyday words (wording.py)
        f.label = wording.QUESTIONS.get(f.name, f.label)
        f.group = wording.HEADINGS.get(f.group, f.group) if f.group else None
    return fields


def step_page(ctx: Context, opened: patient_forms.FormTask, step: int | None,
              then: str = "", error: str = "", raw: str | None = None) -> QuestionPage:
    data = _answers(ctx, opened)
    fields = _fields(opened, data)
    if step is None:  # carry on after the last answer given
        answered = [n for n, f in enumerate(fields, 1) if f.value is not None]
        step = (answered[-1] + 1) if answered else 1
    step = min(max(step, 1), len(fields) + 1)
    if step > len(fields):
        return review_page(ctx, opened, [])
    f = fields[step - 1]
    control, choices = _control(f)
    return QuestionPage(opened.task.task_id, opened.task.title, step, len(fields), f, control,
                        choices, _hint(f),
                        scale_note(f) if control == "scale" else "", error,
                        _as_text(f.value) if raw is None else raw,
                        "review" if then == "review" else "")


def review_page(ctx: Context, opened: patient_forms.FormTask,
                errors: list[FieldError]) -> QuestionPage:
    """The last step: every answer with a link to change it, and problems found on sending."""
    fields = _fields(opened, _answers(ctx, opened))
    problems: list[ReviewItem] = []
    for error in errors:
        step = next((n for n, f in enumerate(fields, 1) if f.name == error.field
                     or f.name.startswith(f"{error.field}.")), 0)
        label = fields[step - 1].label if step else "These answers"
        problem = ReviewItem(step, fields[step - 1].group if step else None, label, "",
                             error=error.message[:1].upper() + error.message[1:])
        if problem not in problems:
            problems.append(problem)
    by_step = {p.step: p.error for p in problems}
    review = [ReviewItem(n, f.group, f.label, _answer_text(f), f.required and f.value is None,
                         by_step.get(n, "")) for n, f in enumerate(fields, 1)]
    return QuestionPage(opened.task.task_id, opened.task.title, len(fields) + 1, len(fields),
                        None, review=review, problems=problems)


def answer_step(ctx: Context, opened: patient_forms.FormTask, form: dict[str, str],
                posted: dict[str, list[Any]]) -> str | QuestionPage:
    """Keep one answer in the draft; the next address, or the same step with a message."""
    task_id = opened.task.task_id
    data = _answers(ctx, opened)
    fields = _fields(opened, data)
    step = int(form["step"]) if form.get("step", "").isdigit() else 1
    step = min(max(step, 1), len(fields))
    f = fields[step - 1]
    values = [v.strip() for v in posted.get(f.name, []) if isinstance(v, str) and v.strip()]
    going_back = form.get("action") == "back"
    value, problem = _parse(opened.schema, f, values)
    if problem and not going_back:
        return step_page(ctx, opened, step, form.get("then", ""), problem, " ".join(values))
    if not problem:
        store_at(data, f.name, value)
        patient_forms.save_draft(ctx, task_id, data)
    if going_back:
        return f"/questionnaire/{task_id}?step={max(1, step - 1)}"
    following = len(fields) + 1 if form.get("then") == "review" else step + 1
    return f"/questionnaire/{task_id}?step={following}"


def _parse(schema: dict[str, Any], f: FormField, values: list[str]) -> tuple[Any, str]:
    """(value, problem): None for a skipped optional question; a message for a bad answer."""
    if not values:
        if f.kind == "choices" and f.required:
            return [], ""  # none ticked is an answer ("leave empty if none")
        if not f.required:
            return None, ""
        return None, ("Please enter an answer to go on." if f.kind in ("text", "textarea",
                                                                       "integer", "number")
                      else "Please choose an answer to go on.")
    options = {v for v, _ in f.options}
    if f.kind == "boolean" and values[-1] not in ("true", "false"):
        return None, "Please choose Yes or No."
    if f.kind in ("choice", "choices") and not set(values) <= options:
        return None, "Please choose one of the answers shown."
    data, problems = parse_form(schema, {f.name: values})
    value = value_at(data, f.name)
    if f.name in problems or value is None:
        return None, f"Please {problems.get(f.name, 'give an answer')}."
    if f.kind in ("integer", "number") and (
            (f.minimum is not None and value < f.minimum)
            or (f.maximum is not None and value > f.maximum)):
        return None, (f"Please enter a {'whole ' if f.kind == 'integer' else ''}number from "
                      f"{_as_text(f.minimum)} to {_as_text(f.maximum)}.")
    return value, ""


def submit_answers(ctx: Context, opened: patient_forms.FormTask) -> str:
    """Complete the task with the draft; returns the key of the thank-you message."""
    task = opened.task
    data = _answers(ctx, opened)
    missing = [FieldError(f.name, "please answer this question")
               for f in _fields(opened, data) if f.required and f.value is None]
    if missing:
        raise FormValidationError(task.form, missing)
    validate_submission(task.form, opened.schema, data)  # before anything is written
    result = episodes.complete_task(ctx, task.task_id, data)
    patient_forms.delete_draft(ctx, task.task_id)
    events = {event.name: event.data for event in result.events}
    if (events.get("red_flag_raised") or {}).get("red_flag_outcome") == "emergency":
        return "emergency"  # the emergency instruction heads the next page (patient_views)
    if "red_flag_raised" in events:
        return "safety_flag"
    if task.form == "red_flag_screen":
        return "safety"
    week = events.get("exercise_week_completed")
    if week is not None and f"check_in_{week.get('progression')}" in SENT:
        return f"check_in_{week.get('progression')}"
    return "questionnaire"


