"""Timer workers side by side: every due timer fires once, none twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from service.core.db import transaction
from service.core.tables import Event, ReadyTask

from .conftest import World, refer, through_first_visit


def test_workers_sweeping_side_by_side_fire_each_due_timer_once(world: World) -> None:
    """`carepath worker` processes side by side (on PostgreSQL each takes an instance with
    FOR UPDATE SKIP LOCKED; on SQLite the write lock queues them): every due timer fires
    once, none twice."""
    from service.care.worker import sweep
    from service.models.registry import EngineRegistry

    episodes = []
    for number in range(6):
        patient, episode_id = refer(world, f"Patient {number}", f"patient{number}")
        through_first_visit(world, patient, "medium_start_back")
        episodes.append(episode_id)
    world.clock.advance(timedelta(days=7))
    with transaction(world.db, write=False) as session:
        last_event = session.exec(sa.select(sa.func.max(Event.id))).one()[0]
    start = threading.Barrier(4)

    def worker(_: int) -> int:
        engines = EngineRegistry(world.clock)  # a worker process has its own
        start.wait()
        return sweep(world.db, world.clock, engines)

    with ThreadPoolExecutor(4) as pool:
        fired = list(pool.map(worker, range(4)))

    assert sum(fired) == len(episodes), fired
    assert world.sweep() == 0, "a due timer was left"
    with transaction(world.db, write=False) as session:
        check_ins = session.exec(select(ReadyTask.episode_id).where(
            ReadyTask.name == "weekly_check_in")).all()
        new_events = session.exec(select(Event.episode_id).where(
            Event.id > last_event)).all()  # type: ignore[operator]
    assert sorted(check_ins) == sorted(episodes), "one weekly check-in per patient"
    per_episode = {episode: new_events.count(episode) for episode in episodes}
    assert len(set(per_episode.values())) == 1 and 0 not in per_episode.values(), per_episode
