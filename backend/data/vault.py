"""The vault: encrypts credential secrets at rest, with a key the database can recognise.

Secrets are Fernet tokens (AES-128-CBC with an HMAC-SHA256, from ``cryptography``). The
key comes from BACKEND_ENCRYPTION_KEY, or else from DATA_DIR/encryption.key, which the
first start creates (mode 0600). Several comma-separated keys rotate: the first encrypts,
every one decrypts.

``open_vault`` is what every process calls at start. It proves the key is the database's
before anything else happens: the database keeps one value encrypted with the key, and a
key that cannot decrypt it stops the process with one line. A missing key file is made
anew only while the database holds nothing encrypted, so a lost key is never silently
replaced by a new one over old secrets. No message here ever holds a key or a secret.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.data.store import Store
from backend.errors import EncryptionKeyError
from backend.settings import Settings

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "encryption.key"
ENV_SOURCE = "BACKEND_ENCRYPTION_KEY"
_CHECK_PAYLOAD = {"check": "agent-server encryption key"}
_GENERATE_HINT = "make one with `agent-server encryption-key generate`"


class Vault:
    def __init__(self, keys: Sequence[str], source: str) -> None:
        """``keys`` as ``parse_keys`` returns them; ``source`` names where they came from."""
        self.source = source
        self.key_count = len(keys)
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, payload: Mapping[str, str]) -> str:
        """``payload`` as one token, encrypted with the first key."""
        return self._fernet.encrypt(json.dumps(dict(payload)).encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, what: str = "a stored secret") -> dict[str, str]:
        try:
            data = self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            raise EncryptionKeyError(
                f"{what} cannot be decrypted with the key from {self.source}"
            ) from None
        payload: dict[str, str] = json.loads(data)
        return payload

    def rewrap(self, token: str) -> str:
        """``token`` encrypted anew with the first key (it may be under any of them)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise EncryptionKeyError(
                f"a stored secret cannot be decrypted with the key from {self.source}"
            ) from None

    def check_token(self) -> str:
        return self.encrypt(_CHECK_PAYLOAD)

    def accepts(self, check_token: str) -> bool:
        try:
            return self.decrypt(check_token) == _CHECK_PAYLOAD
        except EncryptionKeyError:
            return False


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, source: str) -> list[str]:
    """The keys in ``text`` (comma- or whitespace-separated), each checked to be a key."""
    keys = text.replace(",", " ").split()
    if not keys:
        raise EncryptionKeyError(f"{source} holds no encryption key; {_GENERATE_HINT}")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise EncryptionKeyError(
                f"{source}: key {position} of {len(keys)} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes); {_GENERATE_HINT}"
            ) from None
    return keys


def key_file_path(settings: Settings) -> Path:
    return settings.data_dir.resolve() / KEY_FILE_NAME


def open_vault(settings: Settings, store: Store) -> Vault:
    """The vault for ``settings``' key, proven to be the key of ``store``'s secrets.

    Call it at start, after ``store.prepare``; EncryptionKeyError (one line) otherwise.
    """
    configured = settings.encryption_key.get_secret_value()
    if configured.strip():
        vault = Vault(parse_keys(configured, ENV_SOURCE), ENV_SOURCE)
        _prove(vault, store)
        return vault
    path = key_file_path(settings)
    # The database first, then the file: a process starting beside us creates the file
    # before it writes the check value, so a check seen here means its file is there too.
    holds_secrets = store.encryption_check() is not None or store.count_credentials() > 0
    created = False
    if not path.exists():
        if holds_secrets:
            raise EncryptionKeyError(
                f"no encryption key: {ENV_SOURCE} is unset and the key file {path} is "
                "missing, but this database's secrets are encrypted with a key already; restore "
                f"the key file from your backup or set {ENV_SOURCE} (a new key cannot decrypt them)"
            )
        created = _create_key_file(path)
    source = f"key file {path}"
    vault = Vault(parse_keys(_read_key_file(path), source), source)
    try:
        _prove(vault, store)
    except EncryptionKeyError:
        # Our fresh key lost the race for the check value to another process's key.
        if created:
            path.unlink(missing_ok=True)
        raise
    return vault


def reencrypt_all(store: Store, vault: Vault) -> int:
    """Rewrite every stored secret under the vault's first key; returns how many."""
    return store.reencrypt_secrets(vault.rewrap, time.time())


def _prove(vault: Vault, store: Store) -> None:
    stored = store.encryption_check()
    if stored is None:
        stored = store.init_encryption_check(vault.check_token(), time.time())
    if not vault.accepts(stored):
        raise EncryptionKeyError(
            f"the encryption key from {vault.source} is not the key this database's "
            "credentials are encrypted with; set the right one (to change keys, list the "
            "new key first and the old one after it)"
        )


def _create_key_file(path: Path) -> bool:
    """Write a new key to ``path`` unless it exists; True if this call created it.

    The key is written to a private temporary file and linked into place, so processes
    starting together agree on one complete file (the link fails for all but one).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE_NAME}.")
        try:
            # mkstemp creates the file with mode 0600 whatever the umask.
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(generate_key() + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise EncryptionKeyError(
            f"cannot create the key file {path} (BACKEND_DATA_DIR): {exc.strerror or exc}"
        ) from None
    logger.warning(
        "created encryption key file %s: back it up apart from the database, stored "
        "credentials cannot be read without it",
        path,
    )
    return True


def _read_key_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a key"
        raise EncryptionKeyError(f"cannot read the key file {path}: {reason}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "key file %s is readable by other users (mode %o); chmod 600 it", path, mode & 0o777
        )
    return text
