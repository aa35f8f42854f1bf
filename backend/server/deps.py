"""What routes get injected: the store, the settings, the credentials manager and its
vault, as the app was created with them.

They are coroutines because they only read the app's state: FastAPI runs a plain
function dependency on its thread pool, a hand-off that cost more than the read (a
route takes several of these on every request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.data.credentials_manager import CredentialsManager
from backend.data.store import Store
from backend.data.vault import Vault
from backend.settings import Settings


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_credentials_manager(request: Request) -> CredentialsManager:
    return _manager(request)


async def get_vault(request: Request) -> Vault:
    return _manager(request).vault


def _manager(request: Request) -> CredentialsManager:
    manager: CredentialsManager = request.app.state.credentials
    return manager


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CredentialsDep = Annotated[CredentialsManager, Depends(get_credentials_manager)]
VaultDep = Annotated[Vault, Depends(get_vault)]
