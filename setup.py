"""Packaging beyond what pyproject.toml can declare (everything else is there).

* The top-level `templates/` folder ships as the package `course_catalogue.templates` (a
  package-dir mapping: the folder stays where it is in the repository).
* The interface translations are compiled (`.po` -> `.mo`, with Babel) into the built package,
  so an installed catalogue never writes into site-packages.
* The bundled sample-feed registry (`samples/feeds.toml`) ships as `course_catalogue/samples/`
  with the feed files it names, copied beside it, so `catalogue load-samples` works from a wheel.
"""

from __future__ import annotations

import shutil
import tomllib
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
        target = Path(self.build_lib) / "course_catalogue" / "samples"
        target.mkdir(parents=True, exist_ok=True)
        registry = tomllib.loads(SAMPLES.read_text(encoding="utf-8"))
        lines = [
            "# The bundled sample-feed registry, as packaged: file paths are relative to this file.",
            "",
        ]
        for feed in registry.get("feeds", []):
            if "file" in feed:
                source = (SAMPLES.parent / feed["file"]).resolve()
                shutil.copyfile(source, target / source.name)
                feed = {**feed, "file": source.name}
            lines.append("[[feeds]]")
            lines += [f"{key} = {_toml_string(value)}" for key, value in feed.items()]
            lines.append("")
        (target / "feeds.toml").write_text("\n".join(lines), encoding="utf-8")


def _toml_string(value: object) -> str:
    if not isinstance(value, str):
        raise SystemExit(f"samples/feeds.toml: only string values are packaged, not {value!r}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


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
