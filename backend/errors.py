"""One exception hierarchy for the whole backend.

Expected failures (bad settings, an unusable database, a bad graph) are subclasses of
``BackendError``: entrypoints log them as one line and exit 1, the API maps them to a
status code in one place. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class BackendError(Exception):
    """Base of every expected error. ``code`` is stable and machine-readable."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(BackendError):
    """A setting is missing or invalid; the message names the setting."""

    code = "config_error"


class EncryptionKeyError(ConfigError):
    """The key that encrypts stored credentials is missing, malformed, or not the key the
    database's secrets were encrypted with. The message never holds a key or a secret."""

    code = "encryption_key_error"


class StoreError(BackendError):
    """The database cannot be used (unreachable, unwritable, wrong schema)."""

    code = "store_error"
    http_status = 503


class SchemaError(StoreError):
    """The database schema is not the one this code needs."""

    code = "schema_error"


class InvalidInput(BackendError):
    """A request, graph or run input a user can fix."""

    code = "invalid_input"
    http_status = 422


class MissingCredentials(InvalidInput):
    """A node needs credentials for a provider and neither the user nor the operator has
    any; the message names the provider and how to add them."""

    code = "missing_credentials"


class NotFound(BackendError):
    code = "not_found"
    http_status = 404


class Conflict(BackendError):
    """The request does not fit the current state (e.g. cancelling a finished run)."""

    code = "conflict"
    http_status = 409


class ScheduleMoved(Conflict):
    """The schedule changed (another scheduler fired the slot, or its owner edited it)
    since the scheduler read it: nothing was written, read it again."""

    code = "schedule_moved"


class RateLimited(BackendError):
    """Too many requests of one kind in a window; ``retry_after`` seconds until the
    next one would be accepted."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after


class LeaseLost(BackendError):
    """This executor no longer owns the run it was writing to (another one reclaimed it)."""

    code = "lease_lost"
    http_status = 409


class ProviderError(BackendError):
    """A third-party service (an LLM provider) refused, failed or gave an unusable answer.

    The message says which provider and why, and never carries a secret.
    """

    code = "provider_error"
    http_status = 502
