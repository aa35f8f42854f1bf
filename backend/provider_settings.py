"""The settings of third-party providers: the OAuth2 client the operator registers with
each provider, where each service is called, and the operator's default credentials.

They are mixed into ``Settings`` (backend/settings.py), so each keeps its flat variable
(BACKEND_GOOGLE_CLIENT_ID, BACKEND_AIRTABLE_BASE_URL, ...) and its row in docs/settings.md;
``oauth_apps`` gathers each OAuth2 provider's variables into one model of its own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings

GOOGLE = "google"
WORDPRESS = "wordpress"


class OAuthApp(BaseModel):
    """One provider's OAuth2 client as the operator registered it (BACKEND_<PROVIDER>_*)."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    auth_url: str
    token_url: str
    # None: the provider has no revocation endpoint (a user revokes in their account).
    revoke_url: str | None = None


class OAuthSettings(BaseSettings):
    """Each OAuth2 provider's client: id, secret and endpoints."""

    google_client_id: str = Field(
        "", description="The operator's Google OAuth2 client id; empty: Google cannot be connected."
    )
    google_client_secret: SecretStr = Field(
        SecretStr(""), description="The operator's Google OAuth2 client secret."
    )
    google_auth_url: str = Field(
        "https://accounts.google.com/o/oauth2/v2/auth",
        description="Where a user is sent to grant Google access (authorization endpoint).",
    )
    google_token_url: str = Field(
        "https://oauth2.googleapis.com/token",
        description="Where Google codes are exchanged and tokens refreshed (token endpoint).",
    )
    google_revoke_url: str = Field(
        "https://oauth2.googleapis.com/revoke",
        description="Where a deleted Google credential's grant is revoked.",
    )
    wordpress_client_id: str = Field(
        "",
        description="The operator's WordPress.com OAuth2 client id; empty: WordPress cannot "
        "be connected.",
    )
    wordpress_client_secret: SecretStr = Field(
        SecretStr(""), description="The operator's WordPress.com OAuth2 client secret."
    )
    wordpress_auth_url: str = Field(
        "https://public-api.wordpress.com/oauth2/authorize",
        description="Where a user is sent to grant WordPress.com access.",
    )
    wordpress_token_url: str = Field(
        "https://public-api.wordpress.com/oauth2/token",
        description="Where WordPress.com codes are exchanged for tokens.",
    )

    @property
    def oauth_apps(self) -> dict[str, OAuthApp]:
        """{provider: its client}, for every OAuth2 provider the operator can register
        (built on each use: a settings copy with other values never sees stale ones)."""
        return {
            GOOGLE: OAuthApp(
                client_id=self.google_client_id,
                client_secret=self.google_client_secret,
                auth_url=self.google_auth_url,
                token_url=self.google_token_url,
                revoke_url=self.google_revoke_url,
            ),
            WORDPRESS: OAuthApp(
                client_id=self.wordpress_client_id,
                client_secret=self.wordpress_client_secret,
                auth_url=self.wordpress_auth_url,
                token_url=self.wordpress_token_url,
            ),
        }


class ServiceSettings(BaseSettings):
    """Where each third-party service is called (a test points them at local servers),
    and how often a long job there is checked."""

    ideogram_base_url: str = Field(
        "https://api.ideogram.ai", description="Where Ideogram image models are called."
    )
    replicate_base_url: str = Field(
        "https://api.replicate.com", description="Where Replicate models are run."
    )
    replicate_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often a running Replicate prediction is checked."
    )
    revid_base_url: str = Field(
        "https://www.revid.ai", description="Where revid.ai videos are rendered."
    )
    revid_poll_seconds: float = Field(
        10.0, gt=0, le=300, description="How often a rendering revid.ai video is checked."
    )
    e2b_api_url: str = Field(
        "https://api.e2b.app", description="E2B's API, where code sandboxes are created."
    )
    e2b_sandbox_url: str = Field(
        "", description="One URL for every E2B sandbox (a proxy); empty: E2B's own routing."
    )
    jina_search_base_url: str = Field(
        "https://s.jina.ai", description="Where Jina's web search is called."
    )
    jina_reader_base_url: str = Field(
        "https://r.jina.ai", description="Where Jina's page reader is called."
    )
    google_maps_base_url: str = Field(
        "https://places.googleapis.com", description="Where Google's Places API is called."
    )
    youtube_base_url: str = Field(
        "https://www.youtube.com", description="Where YouTube pages and captions are read."
    )
    webshare_proxy_url: str = Field(
        "http://p.webshare.io:80",
        description="The Webshare proxy YouTube is read through; empty: no proxy.",
    )
    firecrawl_base_url: str = Field(
        "https://api.firecrawl.dev", description="Where Firecrawl's v1 API is called."
    )
    firecrawl_poll_seconds: float = Field(
        2.0, gt=0, le=60, description="How often a running Firecrawl crawl or extract is checked."
    )
    dataforseo_base_url: str = Field(
        "https://api.dataforseo.com", description="Where DataForSEO's v3 API is called."
    )
    airtable_base_url: str = Field(
        "https://api.airtable.com", description="Where Airtable's Web API is called."
    )
    wordpress_base_url: str = Field(
        "https://public-api.wordpress.com",
        description="Where the WordPress block calls WordPress.com's REST API.",
    )
    gmail_base_url: str = Field(
        "https://gmail.googleapis.com", description="Where Gmail's REST API v1 is called."
    )
    google_calendar_base_url: str = Field(
        "https://www.googleapis.com", description="Where Google Calendar's API v3 is called."
    )


class SystemCredentialSettings(BaseSettings):
    """Operator defaults ("system credentials"): used for a provider when a node names no
    credential of the user's own."""

    openai_api_key: SecretStr = Field(SecretStr(""), description="Default OpenAI API key.")
    anthropic_api_key: SecretStr = Field(SecretStr(""), description="Default Anthropic API key.")
    open_router_api_key: SecretStr = Field(SecretStr(""), description="Default OpenRouter API key.")
    ideogram_api_key: SecretStr = Field(SecretStr(""), description="Default Ideogram API key.")
    replicate_api_key: SecretStr = Field(SecretStr(""), description="Default Replicate API key.")
    revid_api_key: SecretStr = Field(SecretStr(""), description="Default revid.ai API key.")
    e2b_api_key: SecretStr = Field(SecretStr(""), description="Default E2B API key.")
    jina_api_key: SecretStr = Field(SecretStr(""), description="Default Jina API key.")
    google_maps_api_key: SecretStr = Field(
        SecretStr(""), description="Default Google Maps API key."
    )
    firecrawl_api_key: SecretStr = Field(SecretStr(""), description="Default Firecrawl API key.")
    webshare_proxy_username: str = Field("", description="Default Webshare proxy username.")
    webshare_proxy_password: SecretStr = Field(
        SecretStr(""), description="Default Webshare proxy password."
    )
    airtable_api_key: SecretStr = Field(SecretStr(""), description="Default Airtable API key.")
    dataforseo_username: str = Field("", description="Default DataForSEO API login.")
    dataforseo_password: SecretStr = Field(
        SecretStr(""), description="Default DataForSEO API password."
    )


class ProviderSettings(OAuthSettings, ServiceSettings, SystemCredentialSettings):
    """Every provider setting; ``Settings`` adds the server's own."""
