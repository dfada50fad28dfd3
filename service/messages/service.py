"""Messages' write side: sending a message, and turning a patient's message into a "call back"
task.

A message is part of the record: a row of `messages`, which nobody edits or deletes (the
database refuses it, migration 0014), and a `message_sent` event in the episode's
hash-chained log (its id and side, not its text). Sending goes through the one gate to the
record (`care.views.episode_row`): a patient writes in their own episode, staff in their
clinic's, and a clinician's sending is an access-log row like any opening of the record.

A call back is a clinician task outside the pathway. Tasks are otherwise projections of
the workflow engine; a call back is not a step of the BPMN model (no model should have to
foresee every message), so it is not made through the engine: it is a row of the same
ready-task projection (`care.service.add_clinician_task`), so the worklist lists, counts,
filters, claims and releases it on its indexes like every task, and completing it
(`care.service.complete_task`) takes the row away without an engine step. Its making and
its completion are events of the episode's log. Its title quotes the message; its id is made
from the message's, so a message is called back once."""

from __future__ import annotations

from service.care import service as care_service
from service.care import views as care_views
from service.core import access
from service.core.context import Context
from service.core.errors import ConflictError, InvalidRequestError, NotFoundError
from service.core.tables import Message, Patient, ReadyTask
from service.messages import repository
from service.messages.schemas import text_problem
from service.messages.views import call_back_key, side_of
from service.nudges import service as nudges

QUOTE_CHARACTERS = 200
"""How much of a message a call back's title quotes (the worklist shows the title)."""


def send_message(ctx: Context, episode_id: int, text: str) -> Message:
    """The caller's message in the episode's thread: one more unread for the other side."""
    problem = text_problem(text)
    if problem is not None:
        raise InvalidRequestError(problem, [{"field": "text", "message": problem}])
    episode = care_views.episode_row(ctx, episode_id)
    user = access.require_user(ctx.user)
    message = Message(episode_id=episode_id, patient_id=episode.patient_id,
                      clinic_id=episode.clinic_id, sender_id=user.id or 0,
                      sender_side=side_of(user), body=text, sent_at=ctx.now)
    ctx.session.add(message)
    ctx.session.flush()
    repository.count_new_message(ctx.session, message)
    care_service.record_event(ctx, episode, "message_sent",
                              {"message_id": message.id, "side": message.sender_side})
    if message.sender_side == "staff":  # the patient is told by email, if they allow it
        nudges.notify_new_message(ctx.session, episode.patient_id, ctx.now)
    return message


def call_back(ctx: Context, message_id: int) -> ReadyTask:
    """A physiotherapist task "call back" about a patient's message, on the clinic's worklist
    (see the module's docstring)."""
    access.require_role(ctx.user, *access.CLINICIANS)
    message = ctx.session.get(Message, message_id)
    if message is None:
        raise NotFoundError("there is no such message you can see")
    episode = care_views.episode_row(ctx, message.episode_id)
    if message.sender_side != "patient":
        raise ConflictError("only a patient's message can be turned into a call back")
    patient = ctx.session.get(Patient, episode.patient_id)
    quote = " ".join(message.body.split())
    if len(quote) > QUOTE_CHARACTERS:
        quote = quote[:QUOTE_CHARACTERS - 1] + "…"
    name = patient.display_name if patient else "the patient"
    return care_service.add_clinician_task(ctx, episode, call_back_key(message_id),
                                           "call_back", f"Call back {name}: “{quote}”",
                                           {"message_id": message_id})
