"""Webhook subscriptions, for every interface alike: subscribe, list, read, unsubscribe.

Registries (and admins) subscribe a URL to the changes feed (all of it or one scheme's). One
permission check per operation (`catalogue.permissions`), the URL checked once by the same SSRF
guard as feed fetching (`services.webhook_delivery.check_url`; InvalidInput when refused). The
signing secret is returned by `subscribe` only. Deliveries are sent by the periodic task.
"""

from __future__ import annotations

from dataclasses import dataclass

from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.errors import FetchError
from course_catalogue.catalogue.permissions import can_manage_webhook, can_subscribe_webhooks, is_admin
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.catalogue.webhooks import Delivery, Subscription
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.webhook_delivery import check_url


@dataclass
class WebhookService:
    """`allow_private`: webhook URLs may resolve to private addresses (ALLOW_PRIVATE_URLS)."""

    store: CatalogueStore
    allow_private: bool = False

    def subscribe(self, actor: Actor, url: object, scheme_id: object = None) -> tuple[Subscription, str]:
        """A new subscription of the actor's account, with its signing secret (shown once)."""
        actor.permit(can_subscribe_webhooks, "Only registry and admin accounts subscribe webhooks.")
        if actor.account is None:
            raise InvalidInput("A webhook belongs to an account: subscribe with an API token.")
        if not isinstance(url, str):
            raise InvalidInput("url must be a string.", field="url")
        if scheme_id is not None:
            if not isinstance(scheme_id, str):
                raise InvalidInput("scheme must be a scheme id.", field="scheme")
            EligibilityStore(self.store).get_scheme(scheme_id)  # NotFound for an unknown scheme
        try:
            checked = check_url(url, allow_private=self.allow_private)
        except FetchError as exc:
            raise InvalidInput(f"The webhook URL is refused: {exc}", field="url") from None
        return WebhookStore(self.store).subscribe(actor.account.id, checked, scheme_id)

    def subscriptions(self, actor: Actor) -> list[Subscription]:
        """The actor's subscriptions (an admin's or the operator's: all of them)."""
        return WebhookStore(self.store).list_subscriptions(None if actor.may(is_admin) else actor.id)

    def get(
        self, actor: Actor, subscription_id: str, *, deliveries: int = 50
    ) -> tuple[Subscription, list[Delivery]]:
        """One subscription of the actor's (NotFound, PermissionDenied) and its latest deliveries."""
        subscription = self._owned(actor, subscription_id)
        return subscription, WebhookStore(self.store).deliveries(subscription.id, limit=deliveries)

    def unsubscribe(self, actor: Actor, subscription_id: str) -> None:
        """Remove the subscription and its pending deliveries."""
        self._owned(actor, subscription_id)
        WebhookStore(self.store).delete(subscription_id)

    def _owned(self, actor: Actor, subscription_id: str) -> Subscription:
        subscription = WebhookStore(self.store).get(subscription_id)
        actor.permit(
            lambda a: can_manage_webhook(a, subscription.account_id), "This subscription is not yours."
        )
        return subscription
