"""Resolving what a node's credentials input names into a decrypted ``Credentials``.

The order, as in AutoGPT: the user's own credential the node references (by id, scoped
to the user), else the operator's default for the provider (a ``BACKEND_*_API_KEY``
setting, AutoGPT's "system credentials"), else an error naming the provider and what to
do. ``check`` runs the same lookup without decrypting anything: that is the one to refuse
a run with at submit. ``has_credentials`` only asks whether the user has any credential
for the provider, or the operator a default (a node that names none still gets only the
default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from pydantic import SecretStr

from backend.data.credentials import (
    MAX_CREDENTIALS_PER_USER,
    CredentialRecord,
    NewCredentials,
    hint_for,
    new_credentials_id,
    resolved,
    validate,
)
from backend.data.credentials_refresh import TokenRefresher
from backend.data.store import Store
from backend.data.vault import Vault
from backend.errors import Conflict, InvalidInput, MissingCredentials, ProviderError
from backend.providers.credentials import Credentials, CredentialsMetaInput, CredentialsType
from backend.providers.oauth import (
    GOOGLE,
    WORDPRESS,
    OAuthClient,
    TokenSet,
    oauth_clients,
)
from backend.settings import Settings

logger = logging.getLogger(__name__)

# Provider name (as AutoGPT spells it) -> the setting holding the operator's default key.
DEFAULT_KEY_SETTINGS = {
    "openai": "openai_api_key",
    "anthropic": "anthropic_api_key",
    "open_router": "open_router_api_key",
    "ideogram": "ideogram_api_key",
    "replicate": "replicate_api_key",
    "revid": "revid_api_key",
    "e2b": "e2b_api_key",
    "jina": "jina_api_key",
    "google_maps": "google_maps_api_key",
    "firecrawl": "firecrawl_api_key",
    "airtable": "airtable_api_key",
}
# Providers whose operator default is a username and password: the two settings.
DEFAULT_LOGIN_SETTINGS = {
    "webshare_proxy": ("webshare_proxy_username", "webshare_proxy_password"),
    "dataforseo": ("dataforseo_username", "dataforseo_password"),
}
# Providers served without any key (a local server): a node needs no credential for them.
KEYLESS_PROVIDERS = frozenset({"ollama"})


def _setting_name(provider: str) -> str:
    if provider in DEFAULT_LOGIN_SETTINGS:
        return " and ".join(f"BACKEND_{name.upper()}" for name in DEFAULT_LOGIN_SETTINGS[provider])
    return f"BACKEND_{DEFAULT_KEY_SETTINGS[provider].upper()}"


class SystemCredentials:
    """The operator's defaults only: enough for ``run-local``, which has no store.

    Without stored credentials, a reference resolves to its provider's default.
    """

    # Providers whose credentials come from a connect flow, not from a pasted secret.
    oauth_providers = frozenset({GOOGLE, WORDPRESS})

    def __init__(self, settings: Settings) -> None:
        self._defaults: dict[str, Credentials] = {}
        for provider, name in DEFAULT_KEY_SETTINGS.items():
            key: SecretStr = getattr(settings, name)
            if key.get_secret_value():
                self._defaults[provider] = Credentials(
                    provider=provider,
                    type=CredentialsType.API_KEY,
                    title=_setting_name(provider),
                    api_key=key,
                )
        for provider, (user_setting, password_setting) in DEFAULT_LOGIN_SETTINGS.items():
            username: str = getattr(settings, user_setting)
            password: SecretStr = getattr(settings, password_setting)
            if username and password.get_secret_value():
                self._defaults[provider] = Credentials(
                    provider=provider,
                    type=CredentialsType.USER_PASSWORD,
                    title=_setting_name(provider),
                    username=username,
                    password=password,
                )
        for provider in KEYLESS_PROVIDERS:
            self._defaults.setdefault(
                provider, Credentials(provider=provider, type=CredentialsType.API_KEY)
            )

    def default(self, provider: str) -> Credentials | None:
        return self._defaults.get(provider)

    def has_credentials(self, user_id: str, provider: str) -> bool:
        return provider in self._defaults

    def check(
        self,
        user_id: str,
        ref: CredentialsMetaInput | None,
        provider: str,
        field: str = "credentials",
    ) -> None:
        """What ``resolve`` would raise, without decrypting anything (for submit)."""
        self._find(user_id, ref, provider, field, decrypt=False)

    def resolve(
        self,
        user_id: str,
        ref: CredentialsMetaInput | None,
        provider: str,
        field: str = "credentials",
    ) -> Credentials:
        """The credential for the node's ``field`` input (``ref``), needing ``provider``."""
        return self._find(user_id, ref, provider, field, decrypt=True)

    def _find(
        self,
        user_id: str,
        ref: CredentialsMetaInput | None,
        provider: str,
        field: str,
        decrypt: bool,
    ) -> Credentials:
        if ref is not None and ref.id:
            stored = self._stored(user_id, ref, provider, decrypt)
            if stored is not None:
                return stored
        found = self.default(provider)
        if found is not None:
            return found
        if provider in self.oauth_providers:
            raise MissingCredentials(
                f"no credentials for provider {provider!r}: connect an account at "
                f"/ui/credentials and set the node's {field!r} input to its reference "
                "(id, provider, type, title)",
                details={"provider": provider, "field": field},
            )
        message = (
            f"no credentials for provider {provider!r}: add yours with `agent-server "
            f"credentials add --provider {provider}` (or POST /api/v1/credentials) and set "
            f"the node's {field!r} input to its reference (id, provider, type, title)"
        )
        if provider in DEFAULT_KEY_SETTINGS or provider in DEFAULT_LOGIN_SETTINGS:
            message += f", or have the operator set {_setting_name(provider)}"
        raise MissingCredentials(message, details={"provider": provider, "field": field})

    def _stored(
        self, user_id: str, ref: CredentialsMetaInput, provider: str, decrypt: bool
    ) -> Credentials | None:
        """The referenced credential; without a store, none (the default stands in)."""
        return None


class CredentialsManager(SystemCredentials):
    """Users' stored credentials (encrypted by ``vault``), then the operator's defaults."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        vault: Vault,
        oauth: Mapping[str, OAuthClient] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings)
        self.store = store
        self.vault = vault
        self.oauth = dict(oauth) if oauth is not None else oauth_clients(settings)
        self.clock = clock
        self.refresher = TokenRefresher(store, vault, self.oauth, lambda: self.clock())

    def delete(self, user_id: str, credentials_id: str) -> None:
        """Delete the user's credential; an OAuth2 one's grant is revoked at the provider
        first, so the account no longer trusts us. A revocation that fails is logged and
        the credential deleted all the same (the user can revoke it in their account)."""
        record, token = self.store.get_credentials_secret(user_id, credentials_id)
        client = self.oauth.get(record.provider)
        if record.type is CredentialsType.OAUTH2 and client is not None:
            payload = self.vault.decrypt(token, f"credentials {record.id}")
            grant = payload.get("refresh_token") or payload.get("access_token")
            if grant:
                try:
                    client.revoke(grant)
                except ProviderError as exc:
                    logger.warning("credentials %s: %s", record.id, exc.message)
        self.store.delete_credentials(user_id, credentials_id)
        logger.info("credentials %s deleted for user %s", credentials_id, user_id)

    def add_oauth(self, user_id: str, provider: str, tokens: TokenSet) -> CredentialRecord:
        """Store the tokens a connect flow got, named after the account when known."""
        client = self.oauth.get(provider)
        title = f"{client.label if client else provider.capitalize()} account"
        if tokens.account:
            title += f" {tokens.account}"
        return self.add(
            user_id,
            NewCredentials(
                provider=provider,
                type=CredentialsType.OAUTH2,
                title=title,
                secret={name: SecretStr(value) for name, value in tokens.payload().items()},
                scopes=tokens.scopes,
            ),
        )

    def add(self, user_id: str, new: NewCredentials) -> CredentialRecord:
        payload = validate(new)
        if self.store.count_credentials(user_id) >= MAX_CREDENTIALS_PER_USER:
            raise Conflict(f"a user keeps at most {MAX_CREDENTIALS_PER_USER} credentials")
        now = time.time()
        record = CredentialRecord(
            id=new_credentials_id(),
            user_id=user_id,
            provider=new.provider,
            type=new.type,
            title=new.title.strip(),
            hint=hint_for(new.type, payload),
            created_at=now,
            updated_at=now,
            scopes=new.scopes,
        )
        self.store.create_credentials(record, self.vault.encrypt(payload))
        logger.info(
            "credentials %s added for user %s (provider %s)", record.id, user_id, record.provider
        )
        return record

    def has_credentials(self, user_id: str, provider: str) -> bool:
        return super().has_credentials(user_id, provider) or self.store.has_credentials(
            user_id, provider
        )

    def _stored(
        self, user_id: str, ref: CredentialsMetaInput, provider: str, decrypt: bool
    ) -> Credentials | None:
        # Another user's id is not found: a reference never falls back to the default.
        if not decrypt:
            record = self.store.get_credentials(user_id, ref.id)
            _matches(record, ref, provider)
            return resolved(record, {})
        record, token = self.store.get_credentials_secret(user_id, ref.id)
        _matches(record, ref, provider)
        payload = self.vault.decrypt(token, f"credentials {record.id}")
        if record.type is CredentialsType.OAUTH2:
            record, payload = self.refresher.fresh(record, payload)
        return resolved(record, payload)


def _matches(record: CredentialRecord, ref: CredentialsMetaInput, provider: str) -> None:
    if record.provider != provider:
        raise InvalidInput(
            f"credentials {record.id} are for provider {record.provider!r}, "
            f"but this node needs provider {provider!r}"
        )
    if record.type != ref.type:
        raise InvalidInput(
            f"credentials {record.id} are of type {record.type.value}, "
            f"but the node's reference says {ref.type.value}"
        )
