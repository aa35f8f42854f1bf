"""Credentials in SQL: per-user records with their encrypted secret, and the key's check.

Every lookup is scoped to its user: another user's credential is not found, exactly like
one that does not exist. Secrets arrive here encrypted and leave encrypted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.credentials import CredentialRecord, OAuthState
from backend.data.sqlbase import SQLBase
from backend.errors import NotFound
from backend.providers.credentials import CredentialsType

_CHECK_ROW = 1


def _to_record(row: sa.Row[Any]) -> CredentialRecord:
    return CredentialRecord(
        id=row.id,
        user_id=row.user_id,
        provider=row.provider,
        type=CredentialsType(row.type),
        title=row.title,
        hint=row.hint,
        created_at=row.created_at,
        updated_at=row.updated_at,
        scopes=tuple(row.scopes),
    )


def _not_found(credentials_id: str) -> NotFound:
    return NotFound(f"credentials {credentials_id} not found")


# Every column but the secret: listings never carry it, not even encrypted.
_RECORD_COLUMNS = [c for c in t.credentials.c if c.name != "secret"]


class CredentialsMixin(SQLBase):
    def create_credentials(self, record: CredentialRecord, secret: str) -> None:
        with self.write() as conn:
            conn.execute(
                t.credentials.insert().values(
                    id=record.id,
                    user_id=record.user_id,
                    provider=record.provider,
                    type=record.type.value,
                    title=record.title,
                    secret=secret,
                    hint=record.hint,
                    scopes=list(record.scopes),
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )

    def list_credentials(self, user_id: str, provider: str | None = None) -> list[CredentialRecord]:
        c = t.credentials
        query = sa.select(*_RECORD_COLUMNS).where(c.c.user_id == user_id)
        if provider is not None:
            query = query.where(c.c.provider == provider)
        with self.read() as conn:
            rows = conn.execute(query.order_by(c.c.created_at, c.c.id))
            return [_to_record(row) for row in rows]

    def get_credentials(self, user_id: str, credentials_id: str) -> CredentialRecord:
        c = t.credentials
        with self.read() as conn:
            row = conn.execute(
                sa.select(*_RECORD_COLUMNS).where(c.c.id == credentials_id, c.c.user_id == user_id)
            ).first()
        if row is None:
            raise _not_found(credentials_id)
        return _to_record(row)

    def get_credentials_secret(
        self, user_id: str, credentials_id: str
    ) -> tuple[CredentialRecord, str]:
        c = t.credentials
        with self.read() as conn:
            row = conn.execute(
                sa.select(c).where(c.c.id == credentials_id, c.c.user_id == user_id)
            ).first()
        if row is None:
            raise _not_found(credentials_id)
        return _to_record(row), row.secret

    def delete_credentials(self, user_id: str, credentials_id: str) -> None:
        c = t.credentials
        with self.write() as conn:
            result = conn.execute(
                c.delete().where(c.c.id == credentials_id, c.c.user_id == user_id)
            )
        if result.rowcount == 0:
            raise _not_found(credentials_id)

    def count_credentials(self, user_id: str | None = None) -> int:
        c = t.credentials
        query = sa.select(sa.func.count()).select_from(c)
        if user_id is not None:
            query = query.where(c.c.user_id == user_id)
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def has_credentials(self, user_id: str, provider: str) -> bool:
        c = t.credentials
        with self.read() as conn:
            found = conn.execute(
                sa.select(c.c.id).where(c.c.user_id == user_id, c.c.provider == provider).limit(1)
            ).first()
        return found is not None

    def update_credentials_secret(
        self,
        user_id: str,
        credentials_id: str,
        secret: str,
        scopes: tuple[str, ...],
        updated_at: float,
        expected_updated_at: float,
    ) -> bool:
        c = t.credentials
        with self.write() as conn:
            result = conn.execute(
                c.update()
                .where(
                    c.c.id == credentials_id,
                    c.c.user_id == user_id,
                    c.c.updated_at == expected_updated_at,
                )
                .values(secret=secret, scopes=list(scopes), updated_at=updated_at)
            )
        return bool(result.rowcount)

    def claim_credentials_refresh(
        self, user_id: str, credentials_id: str, owner: str, now: float, until: float
    ) -> bool:
        c = t.credentials
        # One conditional UPDATE: PostgreSQL re-checks the condition after a concurrent
        # claim commits, and SQLite runs writes one at a time, so only one claim matches.
        with self.write() as conn:
            result = conn.execute(
                c.update()
                .where(
                    c.c.id == credentials_id,
                    c.c.user_id == user_id,
                    sa.or_(c.c.refresh_until.is_(None), c.c.refresh_until <= now),
                )
                .values(refresh_owner=owner, refresh_until=until)
            )
        return bool(result.rowcount)

    def release_credentials_refresh(self, user_id: str, credentials_id: str, owner: str) -> None:
        c = t.credentials
        with self.write() as conn:
            conn.execute(
                c.update()
                .where(
                    c.c.id == credentials_id,
                    c.c.user_id == user_id,
                    c.c.refresh_owner == owner,
                )
                .values(refresh_owner=None, refresh_until=None)
            )

    def create_oauth_state(self, state: OAuthState, max_pending: int) -> bool:
        o = t.oauth_states
        with self.write() as conn:
            conn.execute(
                o.delete().where(o.c.user_id == state.user_id, o.c.expires_at <= state.created_at)
            )
            pending = conn.execute(
                sa.select(sa.func.count()).select_from(o).where(o.c.user_id == state.user_id)
            ).scalar_one()
            if pending >= max_pending:
                return False
            conn.execute(
                o.insert().values(
                    state_hash=state.state_hash,
                    user_id=state.user_id,
                    binding_hash=state.binding_hash,
                    provider=state.provider,
                    verifier=state.verifier,
                    redirect_uri=state.redirect_uri,
                    created_at=state.created_at,
                    expires_at=state.expires_at,
                )
            )
        return True

    def take_oauth_state(self, state_hash: str, now: float) -> OAuthState | None:
        o = t.oauth_states
        with self.write() as conn:
            row = conn.execute(
                sa.select(o).where(o.c.state_hash == state_hash).with_for_update()
            ).first()
            if row is None:
                return None
            # Whoever deletes the row owns the flow: a second callback finds nothing.
            deleted = conn.execute(o.delete().where(o.c.state_hash == state_hash)).rowcount
        if not deleted or row.expires_at <= now:
            return None
        return OAuthState(
            state_hash=row.state_hash,
            user_id=row.user_id,
            binding_hash=row.binding_hash,
            provider=row.provider,
            verifier=row.verifier,
            redirect_uri=row.redirect_uri,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def encryption_check(self) -> str | None:
        e = t.encryption_check
        with self.read() as conn:
            token: str | None = conn.execute(
                sa.select(e.c.token).where(e.c.id == _CHECK_ROW)
            ).scalar()
        return token

    def init_encryption_check(self, token: str, now: float) -> str:
        e = t.encryption_check
        # Processes starting together race to write it; the first one wins and every
        # other one gets the winner's value back to verify its key against.
        try:
            with self.write() as conn:
                conn.execute(
                    e.insert().values(id=_CHECK_ROW, token=token, created_at=now, updated_at=now)
                )
            return token
        except sa.exc.IntegrityError:
            stored = self.encryption_check()
            assert stored is not None, "the check row was inserted by a concurrent start"
            return stored

    def reencrypt_secrets(self, rewrap: Callable[[str], str], now: float) -> int:
        e = t.encryption_check
        rewritten = 0
        with self.write() as conn:
            # Webhook secrets are encrypted with the same key as credentials.
            for table in (t.credentials, t.hooks):
                rows = conn.execute(sa.select(table.c.id, table.c.secret).with_for_update()).all()
                for row in rows:
                    conn.execute(
                        table.update().where(table.c.id == row.id).values(secret=rewrap(row.secret))
                    )
                rewritten += len(rows)
            check = conn.execute(
                sa.select(e.c.token).where(e.c.id == _CHECK_ROW).with_for_update()
            ).scalar()
            if check is not None:
                conn.execute(
                    e.update()
                    .where(e.c.id == _CHECK_ROW)
                    .values(token=rewrap(check), updated_at=now)
                )
        return rewritten
