"""Where the content that ships with carepath lies: the reference bundle, the education
modules and the exercises.

In a checkout they are the repository's top-level `bpmn/` and `education/`, where authors
edit them. An installed wheel cannot reach a checkout, so it carries copies inside this
package, in `pathways/_content/` (setup.py's build step puts them there). The copies are
used when they are present, which happens only in an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PACKAGED = _PACKAGE / "_content"
ROOT = PACKAGED if PACKAGED.is_dir() else _PACKAGE.parent
"""The directory that holds `bpmn/` and `education/`."""

REFERENCE_BUNDLE = ROOT / "bpmn" / "betterback"
EDUCATION_MODULES = ROOT / "education" / "modules"
EXERCISES = ROOT / "education" / "exercises"
