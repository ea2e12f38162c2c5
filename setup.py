"""Packaging beyond what pyproject.toml can declare (everything else is there).

* The top-level `templates/` folder ships as the package `course_catalogue.templates` (a
  package-dir mapping: the folder stays where it is in the repository).
* The interface translations are compiled (`.po` -> `.mo`, with Babel) into the built package,
  so an installed catalogue never writes into site-packages.
* The bundled sample-feed registry (`samples/feeds.toml`) ships as `course_catalogue/samples/`
  with the feed files it names, copied beside it, so `catalogue load-samples` works from a wheel.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SAMPLES = ROOT / "samples" / "feeds.toml"


class BuildWithSamples(build_py):
    """build_py, then the compiled translations, the sample registry and its files."""

    def run(self) -> None:
        super().run()
        self._compile_translations()
        self._copy_samples()

    def _compile_translations(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        translations = Path(self.build_lib) / "course_catalogue" / "web" / "translations"
        for po in sorted(translations.glob("*/LC_MESSAGES/messages.po")):
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as target:
                write_mo(target, catalog)

    def _copy_samples(self) -> None:
        """The registry as packaged: `file` paths made relative to `course_catalogue/samples/`;
        a feed file outside the package is copied into its `feeds/` folder."""
        package = ROOT / "course_catalogue" / "samples"
        target = Path(self.build_lib) / "course_catalogue" / "samples"
        (target / "feeds").mkdir(parents=True, exist_ok=True)
        lines = []
        for line in SAMPLES.read_text(encoding="utf-8").splitlines():
            found = re.match(r'^file\s*=\s*"([^"]+)"\s*$', line)
            if found:
                source = (SAMPLES.parent / found.group(1)).resolve()
                if not source.is_relative_to(package):
                    shutil.copyfile(source, target / "feeds" / source.name)
                    source = package / "feeds" / source.name
                line = f'file = "{source.relative_to(package).as_posix()}"'
            lines.append(line)
        (target / "feeds.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# Namespace discovery: data folders (web/static, mappings/specs, ...) are packages of data, which
# setuptools wants listed; the templates' folders are listed from their repository place.
PACKAGES = find_namespace_packages(include=["course_catalogue*"], exclude=["*__pycache__*"])
TEMPLATES = ["course_catalogue.templates"] + [
    "course_catalogue.templates." + ".".join(folder.relative_to(ROOT / "templates").parts)
    for folder in sorted((ROOT / "templates").rglob("*"))
    if folder.is_dir() and folder.name != "__pycache__"
]

setup(
    packages=[*PACKAGES, *TEMPLATES],
    package_dir={"course_catalogue.templates": "templates"},
    cmdclass={"build_py": BuildWithSamples},
)
