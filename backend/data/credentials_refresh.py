"""Refreshing an OAuth2 credential's access token before a node runs, one executor at a time.

A token expiring within REFRESH_MARGIN_SECONDS is refreshed at the provider's token URL.
The executor refreshing first takes the credential's refresh lease in the store; another
one needing it meanwhile waits (bounded) and takes the token the holder stored. A token
with no expiry (WordPress.com's) is long-lived and never refreshed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace

from backend.data.credentials import CredentialRecord, expires_at
from backend.data.store import Store
from backend.data.vault import Vault
from backend.errors import ProviderError
from backend.providers.oauth import TOKEN_TIMEOUT_SECONDS, GrantRevoked, OAuthClient

logger = logging.getLogger(__name__)

# An OAuth2 access token expiring within this many seconds is refreshed before a node
# runs, so it does not expire while the node calls the service.
REFRESH_MARGIN_SECONDS = 60.0
# How long a refresh lease lasts (longer than one token request may take), how long
# another executor waits for the holder's token, and how often it looks.
REFRESH_LEASE_SECONDS = 2 * TOKEN_TIMEOUT_SECONDS
REFRESH_WAIT_SECONDS = REFRESH_LEASE_SECONDS + 5.0
REFRESH_POLL_SECONDS = 0.05


class TokenRefresher:
    def __init__(
        self,
        store: Store,
        vault: Vault,
        oauth: Mapping[str, OAuthClient],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.vault = vault
        self.oauth = oauth
        self.clock = clock

    def fresh(
        self, record: CredentialRecord, payload: dict[str, str]
    ) -> tuple[CredentialRecord, dict[str, str]]:
        """The OAuth2 credential with an access token good for a while: refreshed at the
        provider's token URL when it expires within REFRESH_MARGIN_SECONDS.

        Only one executor refreshes a credential at a time: it takes the credential's
        refresh lease in the store first. Another executor needing it meanwhile waits (at
        most REFRESH_WAIT_SECONDS) and takes the token the holder stored; a holder that
        died leaves a lease that runs out after REFRESH_LEASE_SECONDS.
        """
        if not self._needs_refresh(payload):
            return record, payload
        refresh_token = payload.get("refresh_token")
        client = self.oauth.get(record.provider)
        if not refresh_token or client is None or not client.configured:
            return record, self._unrefreshable(record, payload, refresh_token)
        owner = uuid.uuid4().hex
        give_up = time.monotonic() + REFRESH_WAIT_SECONDS
        while True:
            now = self.clock()
            if self.store.claim_credentials_refresh(
                record.user_id, record.id, owner, now, now + REFRESH_LEASE_SECONDS
            ):
                try:
                    return self._refresh(client, *self._reread(record))
                finally:
                    self.store.release_credentials_refresh(record.user_id, record.id, owner)
            # Another executor is refreshing: take its token once it is stored.
            record, payload = self._reread(record)
            if not self._needs_refresh(payload):
                return record, payload
            if time.monotonic() >= give_up:
                return record, self._waited_too_long(record, payload)
            time.sleep(REFRESH_POLL_SECONDS)

    def _needs_refresh(self, payload: dict[str, str]) -> bool:
        # No expiry (WordPress.com's tokens): a long-lived token, never refreshed.
        expiry = expires_at(payload)
        return expiry is not None and expiry - self.clock() <= REFRESH_MARGIN_SECONDS

    def _reread(self, record: CredentialRecord) -> tuple[CredentialRecord, dict[str, str]]:
        record, token = self.store.get_credentials_secret(record.user_id, record.id)
        return record, self.vault.decrypt(token, f"credentials {record.id}")

    def _unrefreshable(
        self, record: CredentialRecord, payload: dict[str, str], refresh_token: str | None
    ) -> dict[str, str]:
        """The payload while its token is still valid; GrantRevoked once it expired."""
        expiry = expires_at(payload)
        if expiry is not None and expiry > self.clock():
            return payload
        reason = (
            "it has no refresh token"
            if not refresh_token
            else f"the operator has not registered a {record.provider} OAuth2 client"
        )
        raise GrantRevoked(
            f"{_name(record)}: the access token has expired and cannot be refreshed "
            f"({reason}); connect the account again at /ui/credentials"
        )

    def _waited_too_long(self, record: CredentialRecord, payload: dict[str, str]) -> dict[str, str]:
        expiry = expires_at(payload)
        if expiry is not None and expiry > self.clock():  # still valid: let the node try
            return payload
        raise ProviderError(
            f"{_name(record)}: another executor has been refreshing the access token for "
            f"{REFRESH_WAIT_SECONDS:.0f} s; try again"
        )

    def _refresh(
        self, client: OAuthClient, record: CredentialRecord, payload: dict[str, str]
    ) -> tuple[CredentialRecord, dict[str, str]]:
        """Refresh at the provider, holding the lease; ``payload`` was read after taking
        it, so a token another executor stored just before is used instead."""
        if not self._needs_refresh(payload):
            return record, payload
        refresh_token = payload.get("refresh_token")
        if not refresh_token:
            return record, self._unrefreshable(record, payload, refresh_token)
        expiry = expires_at(payload) or 0.0
        try:
            tokens = client.refresh(refresh_token, record.scopes)
        except GrantRevoked as exc:
            logger.warning("credentials %s: the refresh was refused (invalid_grant)", record.id)
            raise GrantRevoked(f"{_name(record)}: {exc.message}") from None
        except ProviderError as exc:
            if expiry > self.clock():  # still valid for a few seconds: let the node try
                logger.warning("credentials %s: refresh failed: %s", record.id, exc.message)
                return record, payload
            raise ProviderError(f"{_name(record)}: {exc.message}") from None
        fresh = tokens.payload()
        scopes = tokens.scopes or record.scopes
        updated_at = max(self.clock(), record.updated_at + 0.001)
        # The lease makes this the only writer; naming the version read stays as a guard
        # against a holder whose lease ran out while the provider was slow.
        if self.store.update_credentials_secret(
            record.user_id,
            record.id,
            self.vault.encrypt(fresh),
            scopes,
            updated_at,
            expected_updated_at=record.updated_at,
        ):
            logger.info("credentials %s refreshed (provider %s)", record.id, record.provider)
            return replace(record, scopes=scopes, updated_at=updated_at), fresh
        return self._reread(record)


def _name(record: CredentialRecord) -> str:
    return f"credentials {record.title!r} ({record.id})"
