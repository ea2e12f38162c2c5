"""`catalogue skills`: whether ESCO skills are on, and looking a skill up by label or URI.

catalogue skills                       # status: the taxonomy's version and size, or why it is off
catalogue skills find "project management"
"""

from __future__ import annotations

import click

from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.errors import SkillsError
from course_catalogue.skills.linking import PUBLISH_THRESHOLD


@click.group("skills", invoke_without_command=True)
@click.pass_context
def skills_group(context: click.Context) -> None:
    """ESCO skills: status (no subcommand), or `find NAME`."""
    if context.invoked_subcommand is not None:
        return
    taxonomy = skill_taxonomy.current()
    if taxonomy is None:
        raise click.ClickException(skill_taxonomy.OFF_MESSAGE)
    click.echo(
        f"ESCO skills on: {len(taxonomy)} skills (packages {taxonomy.version}); inferred links are "
        f"published at confidence >= {PUBLISH_THRESHOLD} (SKILLS.md)"
    )


@skills_group.command("find")
@click.argument("name")
def skills_find(name: str) -> None:
    """The ESCO skill called NAME (a URI, an ESCO id or a label, any case): URI, labels, group."""
    try:
        skill = skill_taxonomy.require().resolve(name)
    except SkillsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(skill.uri)
    click.echo(f"label: {skill.label}")
    if len(skill.labels) > 1:
        click.echo(f"also: {'; '.join(skill.labels[1:])}")
    if skill.group:
        click.echo(f"group: {skill.group}")
    if skill.description:
        click.echo(skill.description)


SKILL_COMMANDS = (skills_group,)
