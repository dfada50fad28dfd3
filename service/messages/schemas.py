"""Request and response bodies of the messages' routes, and the one check a message's text
passes (the API's body and the pages' forms alike)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

MAX_LENGTH = 5000
"""Characters in one message: a long letter; more belongs in a call or a visit."""
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z][^<>]*>|<!--")
"""An HTML tag or comment. Messages are plain text (and shown escaped all the same)."""

Side = Literal["patient", "staff"]
"""Who wrote a message, and whose unread count it adds to: the patient, or the clinic's
staff (its physiotherapists and clinic leads read one shared thread)."""


def text_problem(text: str) -> str | None:
    """What is wrong with a message's text, in words that say what to fix; None if nothing."""
    if not text.strip():
        return "write a message: it is empty"
    if len(text) > MAX_LENGTH:
        return (f"a message can be at most {MAX_LENGTH:,} characters; this one has "
                f"{len(text):,}: shorten it or send it in parts")
    if _MARKUP.search(text):
        return "a message is plain text: take out the HTML markup (the parts in < >)"
    return None


class MessageCreate(BaseModel):
    text: str = Field(description=f"Plain text, 1 to {MAX_LENGTH:,} characters, no HTML")

    @field_validator("text")
    @classmethod
    def _plain_text(cls, text: str) -> str:
        problem = text_problem(text)
        if problem is not None:
            raise ValueError(problem)
        return text


class MessagePublic(BaseModel):
    id: int
    episode_id: int
    sender_side: Side
    sender_name: str
    text: str
    sent_at: datetime
    call_back_task_id: str | None = None
    """The "call back" task made from this message, open or done, if there is one."""
    call_back_done: bool = False


class MessagesPublic(BaseModel):
    data: list[MessagePublic]
    """The episode's thread, oldest first (newest last)."""
    count: int
    unread: int
    """Messages of the other side the caller's side had not read before this answer (reading
    the thread marks them read)."""
