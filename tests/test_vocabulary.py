"""The words a model's forms give its codes: titles and choice labels, wherever a field sits."""

from __future__ import annotations

from pathways.models import PathwayModel
from pathways.vocabulary import plain, vocabulary_of


def test_a_choice_reads_as_its_label_and_a_nested_field_as_its_title() -> None:
    vocabulary = vocabulary_of({"screen": {"properties": {
        "red_flags": {"type": "object", "title": "Do any apply?", "properties": {
            "saddle_numbness": {"type": "boolean", "title": "Numbness in the saddle area"}}},
        "diagnosis": {"type": "string", "enum": ["non_specific_lbp"],
                      "x-enum-labels": {"non_specific_lbp": "Non-specific low back pain"}},
        "topics": {"type": "array", "items": {"enum": ["fear"],
                                               "x-enum-labels": {"fear": "Fear of movement"}}},
    }}})
    assert vocabulary.title("saddle_numbness") == "Numbness in the saddle area"
    assert vocabulary.label("diagnosis", "non_specific_lbp") == "Non-specific low back pain"
    assert vocabulary.labels_of("topics", ["fear", "worry_more"]) == [
        "Fear of movement", "worry more"]
    assert vocabulary.title("no_such_field") == "No such field"
    assert vocabulary.label("diagnosis", None) == ""
    assert {"saddle_numbness", "non_specific_lbp", "fear"} <= vocabulary.codes()


def test_where_two_forms_share_a_field_the_first_by_name_gives_its_words() -> None:
    vocabulary = vocabulary_of({
        "b_form": {"properties": {"x": {"title": "From b", "enum": ["a"],
                                        "x-enum-labels": {"a": "A from b"}}}},
        "a_form": {"properties": {"x": {"title": "From a", "enum": ["a"],
                                        "x-enum-labels": {"a": "A from a"}}}}})
    assert (vocabulary.title("x"), vocabulary.label("x", "a")) == ("From a", "A from a")


def test_a_code_no_form_names_reads_with_its_separators_as_spaces() -> None:
    assert plain("hold_alert") == "hold alert"
    assert plain("back-extension") == "back extension"


TOLD_IN_SENTENCES = ("working_diagnosis", "red_flag_decision", "escalation_decision",
                     "alert_action", "discharge_outcome", "education_follow_up",
                     "emergency_action", "session_topics")
"""The choices the clinician's timeline and task pages put in sentences."""


def test_every_choice_the_pages_tell_has_a_label_in_the_shipped_forms(
        betterback: PathwayModel) -> None:
    """A choice without a label would reach a sentence as its code in plain words."""
    choices: dict[str, set[str]] = {}
    for schema in betterback.forms.values():
        stack = [schema]
        while stack:
            node = stack.pop()
            for field, prop in (node.get("properties") or {}).items():
                stack.append(prop)
                found = prop.get("enum") or (prop.get("items") or {}).get("enum") or []
                choices.setdefault(field, set()).update(found)
    vocabulary = betterback.vocabulary
    assert {f: sorted(c - set(vocabulary.labels.get(f, {}))) for f, c in choices.items()
            if f in TOLD_IN_SENTENCES} == {f: [] for f in TOLD_IN_SENTENCES}
