"""Build step for the wheel: carry the shipped content inside the `pathways` package.

The reference bundle (`bpmn/`) and the education content (`education/`) stay at the top of
the repository, where authors edit them and a checkout reads them, but top-level folders are
no package's data. This copies them into `pathways/_content/` of the built package, where
`pathways.content` finds them once the wheel is installed. An editable install reads the
checkout, so it gets no copy. Everything else is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
CONTENT = ("bpmn", "education")


class BuildPyWithContent(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib, "pathways", "_content")
        for name in CONTENT:
            self.copy_tree(str(HERE / name), str(target / name))


setup(cmdclass={"build_py": BuildPyWithContent})
