"""Bearer API keys: every /api route resolves the caller's user from its key.

Only the key's hash is looked up, never stored or logged in clear. A missing, unknown
or revoked key answers 401 in the common error shape; what a user may see is then
decided by the routes, which scope every lookup to that user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.data.api_keys import hash_key
from backend.server.deps import StoreDep
from backend.server.errors import Unauthorized

# auto_error=False: the 401 is ours (JSON error shape), the scheme is still documented
# in the OpenAPI schema so /docs offers an "Authorize" button.
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `agent-server api-key create --user NAME`.",
)


def current_user(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    user = store.user_for_key_hash(hash_key(credentials.credentials))
    if user is None:
        raise Unauthorized("invalid or revoked API key")
    return user


UserDep = Annotated[str, Depends(current_user)]
