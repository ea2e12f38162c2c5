"""`catalogue skills`: the status line, or the one clear message when skills are off; `find`."""

from __future__ import annotations

from flask.testing import FlaskCliRunner

from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.web.cli import main


def test_status_and_find(runner: FlaskCliRunner) -> None:
    status = runner.invoke(main, ["skills"])
    assert status.exit_code == 0, status.output
    assert "ESCO skills on: 13 skills" in status.output
    found = runner.invoke(main, ["skills", "find", "Management of projects"])
    assert found.exit_code == 0, found.output
    assert found.output.splitlines()[:2] == [
        "http://data.europa.eu/esco/skill/7111b95d-0ce3-441a-9d92-4c75d05c4388",
        "label: project management",
    ]
    unknown = runner.invoke(main, ["skills", "find", "budgeting"])
    assert unknown.exit_code == 1
    assert "no ESCO skill is called 'budgeting'; did you mean 'manage budgets'" in unknown.output


def test_skills_off_is_one_clear_message(runner: FlaskCliRunner) -> None:
    with skill_taxonomy.use(None):
        status = runner.invoke(main, ["skills"])
        find = runner.invoke(main, ["skills", "find", "python"])
    assert status.exit_code == find.exit_code == 1
    assert "ESCO skills are off" in status.output and "pip install --no-deps" in status.output
    assert "ESCO skills are off" in find.output
