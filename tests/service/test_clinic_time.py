"""The clinic's time zone (CAREPATH_TIME_ZONE): "today" is the clinic's day and pages show
local times, while the API and the database stay in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from service.core import clinic_time
from service.core.settings import Settings

from .conftest import A, World, complete, find_task, refer
from .conftest import page_login as log_in
from .conftest import soup as html


def test_the_clinics_day_ends_at_local_midnight_summer_and_winter() -> None:
    # 23:30 UTC on 5 January is already 00:30 on the 6th in Stockholm (CET, UTC+1).
    assert clinic_time.end_of_day(datetime(2026, 1, 5, 23, 30, tzinfo=UTC)) == \
        datetime(2026, 1, 6, 22, 59, 59, 999999, tzinfo=UTC)
    # In summer (CEST, UTC+2) the day ends at 21:59:59 UTC.
    assert clinic_time.end_of_day(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == \
        datetime(2026, 7, 1, 21, 59, 59, 999999, tzinfo=UTC)
    assert clinic_time.local_date(datetime(2026, 1, 5, 23, 30, tzinfo=UTC)).day == 6


def test_an_unknown_time_zone_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValidationError, match="IANA time zone such as Europe/Stockholm"):
        Settings(time_zone="Mars/Olympus")


def test_pages_show_the_clinics_time_and_the_api_stays_utc(world: World) -> None:
    patient, episode_id = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task = find_task(world.client("physio"), "first_visit")
    assert task["due_at"].endswith("Z") or "+00:00" in task["due_at"]
    due = datetime.fromisoformat(task["due_at"].replace("Z", "+00:00"))
    local = clinic_time.local(due)
    assert local.utcoffset() is not None and local.utcoffset().total_seconds() in (3600, 7200)
    page = html(log_in(world, "physio").get("/worklist"))
    shown = local.strftime("%H:%M %Z")
    assert shown in page.get_text(" "), shown
    assert due.strftime("%H:%M UTC") not in page.get_text(" ")
