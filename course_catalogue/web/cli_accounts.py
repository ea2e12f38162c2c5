"""`catalogue accounts` and `catalogue tokens`: bootstrap and manage API accounts and their tokens,
and the organisations accounts may publish for (`accounts grant`, `sources publishing`).

The first admin can only be made here (the API needs an admin token to create accounts):
`catalogue accounts create "Ops team" --role admin` prints its token once.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from course_catalogue.catalogue.accounts import IssuedToken, Role
from course_catalogue.catalogue.entitlements import publishes_for_others
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.runtime import Services, get_services


def _services() -> Services:
    """The app's services, closed when the current command ends."""
    services = get_services()
    click.get_current_context().call_on_close(services.close)
    return services


def _echo_token(issued: IssuedToken) -> None:
    click.echo(f"Token {issued.token.id} for {issued.token.account_id} (shown once, store it now):")
    click.echo(issued.plaintext)


@click.group("accounts")
def accounts_group() -> None:
    """API accounts (admin, provider, registry)."""


@accounts_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--id", "account_id", help="Account id (default: a slug of NAME).")
@click.option("--label", default="first token", show_default=True, help="Label of its first token.")
@with_appcontext
def accounts_create(name: str, role: str, account_id: str | None, label: str) -> None:
    """Create an account and print its first API token (shown only this once)."""
    service = _services().accounts
    try:
        account, issued = service.create(Actor.operator(), name, role, account_id=account_id, label=label)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Account {account.id!r} ({account.role.value}) created.")
    _echo_token(issued)


@accounts_group.command("list")
@with_appcontext
def accounts_list() -> None:
    """List accounts with their active token count."""
    service, operator = _services().accounts, Actor.operator()
    for account in service.accounts(operator):
        tokens = [t for t in service.tokens(operator, account.id) if t.active]
        click.echo(f"{account.id:24} {account.role.value:9} {len(tokens):3} active token(s)  {account.name}")


@accounts_group.command("grant")
@click.argument("account_id")
@click.option("--name", required=True, help="The organisation's name, as its records give it.")
@click.option("--alias", "aliases", multiple=True, help="Another name of it (a translation); repeatable.")
@click.option("--identifier", help="Its identifier (an IRI or registry id), when records state one.")
@click.option("--country", help="Its country, ISO 3166-1 alpha-3 (e.g. FRA).")
@with_appcontext
def accounts_grant(
    account_id: str, name: str, aliases: tuple[str, ...], identifier: str | None, country: str | None
) -> None:
    """Entitle an account to publish courses of an organisation."""
    fields = {"name": name, "identifier": identifier, "country": country, "aliases": list(aliases)}
    try:
        org = _services().accounts.grant_organisation(Actor.operator(), account_id, fields)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Account {account_id!r} may now publish for {org.name!r} (grant {org.id}).")


@accounts_group.command("organisations")
@click.argument("account_id")
@with_appcontext
def accounts_organisations(account_id: str) -> None:
    """List the organisations an account may publish for (grant id, name, country, identifier)."""
    for org in _services().accounts.organisations(Actor.operator(), account_id):
        extra = f"  also: {', '.join(org.aliases)}" if org.aliases else ""
        click.echo(f"{org.id}  {org.name:40} {org.country or '-':4} {org.identifier or '-'}{extra}")


@accounts_group.command("revoke-organisation")
@click.argument("account_id")
@click.argument("organisation_id")
@with_appcontext
def accounts_revoke_organisation(account_id: str, organisation_id: str) -> None:
    """Withdraw an entitlement (what was published stays; the next harvests are checked)."""
    org = _services().accounts.revoke_organisation(Actor.operator(), account_id, organisation_id)
    click.echo(f"Account {account_id!r} may no longer publish for {org.name!r}.")


@click.command("publishing")
@click.argument("source_id")
@click.option(
    "--for-others/--own-only",
    required=True,
    help="May the source publish courses of any provider (an aggregator), or only of its owner's "
    "organisations?",
)
@with_appcontext
def sources_publishing(source_id: str, for_others: bool) -> None:
    """Decide who a source may publish for (registered on `catalogue sources`)."""
    services = get_services()
    click.get_current_context().call_on_close(services.close)
    updated = services.sources.set_publishing(Actor.operator(), source_id, for_others=for_others)
    who = "any provider" if publishes_for_others(updated) else "its owner's organisations only"
    click.echo(f"Source {source_id!r} publishes for {who}.")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: issue, list, revoke."""


@tokens_group.command("issue")
@click.argument("account_id")
@click.option("--label", default="", help="What the token is for.")
@with_appcontext
def tokens_issue(account_id: str, label: str) -> None:
    """Issue another token for an account (e.g. to rotate one) and print it once."""
    _echo_token(_services().accounts.issue_token(Actor.operator(), account_id, label))


@tokens_group.command("list")
@click.argument("account_id")
@with_appcontext
def tokens_list(account_id: str) -> None:
    """List an account's tokens (ids, labels, dates; never the secrets)."""
    for token in _services().accounts.tokens(Actor.operator(), account_id):
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never used"
        state = f"revoked {token.revoked_at.isoformat(timespec='seconds')}" if token.revoked_at else "active"
        click.echo(f"{token.id}  {state:32} {used:26} {token.label}")


@tokens_group.command("revoke")
@click.argument("token_id")
@with_appcontext
def tokens_revoke(token_id: str) -> None:
    """Revoke a token for good (its id is the part after 'cat_' and before the dot)."""
    token = _services().accounts.revoke_token(Actor.operator(), token_id)
    click.echo(f"Token {token.id} of {token.account_id} revoked.")


COMMANDS = (accounts_group, tokens_group)
