"""The messages' API: an episode's thread (reading it marks it read for the caller's side),
sending, and turning a patient's message into a "call back" task."""

from __future__ import annotations

from fastapi import APIRouter

from service.care import views as care_views
from service.care.schemas import TaskPublic
from service.core.context import Context
from service.core.deps import CallDep
from service.core.schemas import Id
from service.core.tables import Patient
from service.messages import service, views
from service.messages.schemas import MessageCreate, MessagePublic, MessagesPublic

router = APIRouter(tags=["messages"])


@router.get("/api/episodes/{episode_id}/messages", response_model=MessagesPublic)
async def thread(episode_id: Id, call: CallDep) -> MessagesPublic:
    def work(ctx: Context) -> MessagesPublic:
        found = views.thread(ctx, episode_id)
        data = views.messages_public(found)
        return MessagesPublic(data=data, count=len(data), unread=found.unread)

    return await call(work)


@router.post("/api/episodes/{episode_id}/messages", response_model=MessagePublic,
             status_code=201)
async def send(episode_id: Id, body: MessageCreate, call: CallDep) -> MessagePublic:
    def work(ctx: Context) -> MessagePublic:
        message = service.send_message(ctx, episode_id, body.text)
        sender = ctx.user.full_name or ctx.user.username if ctx.user else ""
        if message.sender_side == "patient":
            patient = ctx.session.get(Patient, message.patient_id)
            sender = patient.display_name if patient else sender
        return MessagePublic(id=message.id or 0, episode_id=episode_id,
                             sender_side="patient" if message.sender_side == "patient"
                             else "staff", sender_name=sender, text=message.body,
                             sent_at=message.sent_at)

    return await call(work)


@router.post("/api/messages/{message_id}/call-back", response_model=TaskPublic,
             status_code=201)
async def call_back(message_id: Id, call: CallDep) -> TaskPublic:
    def work(ctx: Context) -> TaskPublic:
        task = service.call_back(ctx, message_id)
        patient = ctx.session.get(Patient, task.patient_id)
        return care_views.task_public(task, patient.display_name if patient else "", ctx.now)

    return await call(work)
