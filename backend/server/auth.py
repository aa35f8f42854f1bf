"""Bearer API keys: every /api route resolves the caller's user from its key.

Only the key's hash is looked up, never stored or logged in clear. A missing, unknown
or revoked key answers 401 in the common error shape; what a user may see is then
decided by the routes, which scope every lookup to that user. An answer that lasts
(the event stream) re-checks its key while it runs, so revoking a key ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.data.api_keys import hash_key
from backend.data.store import Store
from backend.server.deps import StoreDep
from backend.server.errors import Unauthorized

# auto_error=False: the 401 is ours (JSON error shape), the scheme is still documented
# in the OpenAPI schema so /docs offers an "Authorize" button.
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `agent-server api-key create --user NAME`.",
)


@dataclass(frozen=True)
class Caller:
    """Who is asking, and by which key (its hash): a long answer re-checks the key."""

    user: str
    key_hash: str

    def still_valid(self, store: Store) -> bool:
        return store.user_for_key_hash(self.key_hash) == self.user


def current_caller(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    key_hash = hash_key(credentials.credentials)
    user = store.user_for_key_hash(key_hash)
    if user is None:
        raise Unauthorized("invalid or revoked API key")
    return Caller(user, key_hash)


CallerDep = Annotated[Caller, Depends(current_caller)]


def current_user(caller: CallerDep) -> str:
    return caller.user


UserDep = Annotated[str, Depends(current_user)]
