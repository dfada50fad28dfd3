"""Scores are kept unrounded (the MCID checks compare them) and rounded only where a person
reads them: the patient's progress page, the clinician's patient page and its timeline."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from service.core.score_text import score_text, score_value

from .clinician_pages_support import text
from .conftest import A, World, complete, refer, soup, through_first_visit
from .conftest import page_login as log_in

# 9 answered sections adding up to 10: a disability index of 100 * 10 / 45 = 22.22...
NINE_SECTIONS = {"ODI1": 2, **{f"ODI{n}": 1 for n in range(2, 10)}}
FOLLOW_UP = {**A["improved_proms"], "disability": NINE_SECTIONS,
             "psfs": {"PSFS1": 6, "PSFS2": 6, "PSFS3": 5}}  # a mean of 17/3 = 5.66...


@pytest.mark.parametrize(
    ("value", "signed", "shown"),
    [(100 * 10 / 45, False, "22.2"), (40.0, False, "40"), (17 / 3, False, "5.7"),
     (-0.04, False, "0"), (100 * 10 / 45 - 40, True, "-17.8"), (3.0, True, "+3"),
     (0.0, True, "0"), (None, False, "")],
    ids=["a third of a step", "whole", "a PSFS mean", "never -0", "a change", "a rise",
         "no change", "missing"])
def test_a_score_reads_with_one_decimal_at_most(value: float | None, signed: bool,
                                                shown: str) -> None:
    assert score_text(value, signed=signed) == shown


def test_score_value_is_the_number_charts_print() -> None:
    assert score_value(100 * 10 / 45) == 22.2 and score_value(-0.01) == 0.0


def test_people_read_rounded_scores_and_the_api_keeps_them_unrounded(world: World) -> None:
    patient, episode_id = refer(world, "Maja Lind", "maja")
    through_first_visit(world, patient, "medium_start_back")
    world.clock.advance(timedelta(days=14))
    world.sweep()
    patient = world.client("maja")  # a new login: the first one has expired
    complete(patient, "follow_up_2w", {"proms": FOLLOW_UP, "red_flags": A["no_new_flags"]})

    scores = patient.get(f"/api/episodes/{episode_id}/questionnaires").json()[-1]["scores"]
    assert scores["disability"] == 100 * 10 / 45 and scores["psfs"] == 17 / 3
    rows = [r for r in patient.get("/api/progress").json()["rows"] if r["kind"] != "check_in"]
    assert rows[-1]["disability"] == 100 * 10 / 45

    progress = soup(log_in(world, "maja").get("/progress"))
    last_row = [text(td) for td in progress.select("table.scores tbody tr")[-1].select("td")]
    assert last_row == ["3", "22.2", "5.7", "40"]
    summary = [text(li) for li in progress.select(".summary li")]
    assert "Your day-to-day limitation score has gone down by 17.8 points since you started " \
           "(40 → 22.2 out of 100): a meaningful improvement." in summary
    chart = json.loads(text(progress.select_one("script#progress-data")))
    assert chart["disability"]["values"] == [40, 22.2]

    page = soup(log_in(world, "physio").get(f"/patients/{episode_id}"))
    facts = {text(d.select_one("dt")): text(d.select_one("dd")) for d in page.select(".facts div")}
    assert facts["Disability (0-100)"] == "22.2"
    disability = page.select_one("#chart-disability").find_parent("figure")
    assert [[text(td) for td in tr.select("td")][1:3] for tr in disability.select("tbody tr")] \
        == [["40", ""], ["22.2", "-17.8"]]
    timeline = [text(li) for li in page.select("ol.timeline li")]
    assert any("2-week follow-up: pain 3, disability 22.2, PSFS 5.7, PSEQ 40; improved "
               "(disability and PSFS)" in line for line in timeline), timeline
    drawn = json.loads(text(page.select_one("script#page-data")))
    assert next(c for c in drawn["charts"] if c["key"] == "disability")["values"] == [40, 22.2]
