"""The secrets' part of the store interface: API keys, credentials, OAuth2 states and the
encryption check.

``Store`` (store.py) extends it; callers name ``Store``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from backend.data.api_keys import ApiKey
from backend.data.credentials import CredentialRecord, OAuthState


class SecretsStore(ABC):
    # -- API keys --------------------------------------------------------------------------

    @abstractmethod
    def create_api_key(
        self, user_id: str, key_hash: str, prefix: str, now: float, name: str | None = None
    ) -> ApiKey: ...

    @abstractmethod
    def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]: ...

    @abstractmethod
    def revoke_api_key(self, id_or_prefix: str, now: float) -> ApiKey:
        """Revoke by id or shown prefix (idempotent); NotFound, or Conflict when a prefix
        matches several keys."""

    @abstractmethod
    def user_for_key_hash(self, key_hash: str) -> str | None:
        """The user of the key with this hash, None when unknown or revoked."""

    # -- credentials (secrets arrive and leave encrypted) ------------------------------------

    @abstractmethod
    def create_credentials(self, record: CredentialRecord, secret: str) -> None:
        """Store a user's credential; ``secret`` is its encrypted payload."""

    @abstractmethod
    def list_credentials(self, user_id: str, provider: str | None = None) -> list[CredentialRecord]:
        """The user's credentials, oldest first (records only, no secrets)."""

    @abstractmethod
    def get_credentials(self, user_id: str, credentials_id: str) -> CredentialRecord:
        """NotFound unless the credential exists and belongs to ``user_id``."""

    @abstractmethod
    def get_credentials_secret(
        self, user_id: str, credentials_id: str
    ) -> tuple[CredentialRecord, str]:
        """The record and its encrypted payload; NotFound as ``get_credentials``."""

    @abstractmethod
    def delete_credentials(self, user_id: str, credentials_id: str) -> None:
        """NotFound as ``get_credentials``."""

    @abstractmethod
    def count_credentials(self, user_id: str | None = None) -> int:
        """How many credentials the user (every user, by default) has stored."""

    @abstractmethod
    def has_credentials(self, user_id: str, provider: str) -> bool:
        """Whether the user has stored any credential for ``provider``."""

    @abstractmethod
    def update_credentials_secret(
        self,
        user_id: str,
        credentials_id: str,
        secret: str,
        scopes: tuple[str, ...],
        updated_at: float,
        expected_updated_at: float,
    ) -> bool:
        """Replace the encrypted payload (and scopes) unless someone else changed the
        credential since ``expected_updated_at``: False then, and nothing written."""

    @abstractmethod
    def claim_credentials_refresh(
        self, user_id: str, credentials_id: str, owner: str, now: float, until: float
    ) -> bool:
        """Take the credential's refresh lease for ``owner`` until ``until``: True when no
        one holds it or its holder's lease ran out by ``now``, False when another holds it
        (or the credential is gone). Atomic: of two claims at once, one wins."""

    @abstractmethod
    def release_credentials_refresh(self, user_id: str, credentials_id: str, owner: str) -> None:
        """Give the refresh lease back, if ``owner`` still holds it."""

    @abstractmethod
    def create_oauth_state(self, state: OAuthState, max_pending: int) -> bool:
        """Keep a connect flow's state, dropping the user's expired ones first; False (and
        nothing kept) when the user already has ``max_pending`` flows waiting."""

    @abstractmethod
    def take_oauth_state(self, state_hash: str, now: float) -> OAuthState | None:
        """Delete and return the flow with this state hash; None when there is none or it
        has expired (an expired one is deleted too)."""

    @abstractmethod
    def encryption_check(self) -> str | None:
        """The encrypted check value of the database's key; None before the first start."""

    @abstractmethod
    def init_encryption_check(self, token: str, now: float) -> str:
        """Store ``token`` as the check value unless one exists; returns the stored one."""

    @abstractmethod
    def reencrypt_secrets(self, rewrap: Callable[[str], str], now: float) -> int:
        """Replace every encrypted secret and the check value by ``rewrap(old)``, in ONE
        transaction; returns how many secrets (credentials, hook secrets) were rewritten."""
