"""API bearer tokens: the token file in the node's home and checking a presented token.

Rules this module keeps:

1. The secret is printed once, when the token is created, and never stored: the file holds
   the token's public id and the SHA-256 of its 32 random secret bytes. A presented token is
   looked up by its id and its hash compared with ``hmac.compare_digest``.
2. The file is written whole to a temporary file and renamed over the old one (mode 0600),
   so a node reloading it never reads half a file.
3. A bad file (not JSON, wrong types, readable by other users, too large) is a
   `ConfigError` naming the file and the field: the node refuses to start with it, and a
   running node keeps the tokens it had (``watch_token_file``).
4. A revoked token stays in the file (with the time it was revoked) so that the list shows
   who had access; it is refused like an unknown one.

A token reads ``tng_<id>_<secret>``: ``id`` is 16 hex characters, ``secret`` the 32 secret
bytes in unpadded base64url (43 characters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import trio

from node.errors import ConfigError

log = logging.getLogger("tenge.api")

API_TOKENS_FILE: Final = "api_tokens.json"
TOKEN_FILE_VERSION: Final = 1
SECRET_BYTES: Final = 32
TOKEN_ID_BYTES: Final = 8
#: Tokens one file may hold (revoked ones included), and its largest size in bytes.
MAX_TOKENS: Final = 1000
MAX_FILE_BYTES: Final = 1024 * 1024
#: How often a running node looks at the file for changes (``watch_token_file``).
WATCH_INTERVAL_S: Final = 1.0

# The scopes (docs/api.md, "Access").
SUBMIT: Final = "submit"
READ_OWN: Final = "read:own"
READ_ALL: Final = "read:all"
ADMIN: Final = "admin"
SCOPES: Final = (SUBMIT, READ_OWN, READ_ALL, ADMIN)

_TOKEN_RE: Final = re.compile(r"tng_([0-9a-f]{16})_([A-Za-z0-9_-]{43})\Z")
_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
_ACCOUNT_RE: Final = re.compile(r"[a-z0-9.-]{3,64}\Z")
_FIELDS: Final = frozenset({"name", "id", "sha256", "scopes", "bank", "created_ms", "revoked_ms"})

# Why a presented token was refused (``tenge_api_auth_refused_total``, docs/monitoring.md).
MISSING_TOKEN: Final = "missing_token"
INVALID_TOKEN: Final = "invalid_token"
REVOKED_TOKEN: Final = "revoked_token"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One token as the file records it (never its secret).

    Attributes:
        name: the operator's name for it (unique in the file).
        token_id: 16 hex characters, the public part of the token text.
        secret_sha256: SHA-256 of the 32 secret bytes.
        scopes: what it may do (`SCOPES`).
        bank: the bank account whose registered accounts ``read:own`` reads ("" for none).
        created_ms: when it was created (Unix milliseconds).
        revoked_ms: when it was revoked (0 while in force).
    """

    name: str
    token_id: str
    secret_sha256: bytes
    scopes: frozenset[str]
    bank: str
    created_ms: int
    revoked_ms: int = 0

    @property
    def revoked(self) -> bool:
        """True once revoked."""
        return self.revoked_ms != 0

    def has(self, scope: str) -> bool:
        """Whether the token grants scope (``admin`` grants every scope)."""
        return scope in self.scopes or ADMIN in self.scopes

    def public_doc(self) -> dict[str, Any]:
        """The record as JSON (the file's entry, and what ``api-token list`` prints)."""
        return {
            "name": self.name,
            "id": self.token_id,
            "sha256": self.secret_sha256.hex(),
            "scopes": [s for s in SCOPES if s in self.scopes],
            "bank": self.bank,
            "created_ms": self.created_ms,
            "revoked_ms": self.revoked_ms,
        }


class TokenBook:
    """The tokens of one node, by id; answers who presented a token."""

    def __init__(self, tokens: Iterable[ApiToken] = ()) -> None:
        self.tokens: tuple[ApiToken, ...] = tuple(tokens)
        self._by_id = {t.token_id: t for t in self.tokens}

    def __len__(self) -> int:
        return len(self.tokens)

    def authenticate(self, text: str) -> tuple[ApiToken | None, str]:
        """The token of a presented token text.

        Returns:
            ``(token, "")`` when it is known, in force and its secret matches; else
            ``(None, INVALID_TOKEN)`` or ``(None, REVOKED_TOKEN)``.
        """
        found = _TOKEN_RE.match(text)
        if found is None:
            return None, INVALID_TOKEN
        token = self._by_id.get(found.group(1))
        secret = _secret_bytes(found.group(2))
        if token is None or secret is None:
            return None, INVALID_TOKEN
        if not hmac.compare_digest(hashlib.sha256(secret).digest(), token.secret_sha256):
            return None, INVALID_TOKEN
        if token.revoked:
            return None, REVOKED_TOKEN
        return token, ""


def _secret_bytes(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except ValueError:
        return None
    return raw if len(raw) == SECRET_BYTES else None


def new_token(name: str, scopes: Iterable[str], bank: str, now_ms: int) -> tuple[ApiToken, str]:
    """A fresh token and its text (the secret, to show once).

    Raises:
        ValueError: a bad name, scope or bank, or ``read:own`` without a bank.
    """
    scope_set = frozenset(scopes)
    _check_record(name, scope_set, bank)
    token_id = secrets.token_hex(TOKEN_ID_BYTES)
    secret = secrets.token_bytes(SECRET_BYTES)
    text = f"tng_{token_id}_{base64.urlsafe_b64encode(secret).rstrip(b'=').decode()}"
    token = ApiToken(name, token_id, hashlib.sha256(secret).digest(), scope_set, bank, now_ms)
    return token, text


def revoke(tokens: Sequence[ApiToken], name: str, now_ms: int) -> list[ApiToken]:
    """The tokens with the one named ``name`` revoked.

    Raises:
        ValueError: no token has that name, or it is revoked already.
    """
    found = [t for t in tokens if t.name == name]
    if not found:
        raise ValueError(f"no token named {name[:70]!r}")
    if found[0].revoked:
        raise ValueError(f"token {name!r} is revoked already")
    return [replace(t, revoked_ms=max(1, now_ms)) if t.name == name else t for t in tokens]


def _check_record(name: str, scopes: frozenset[str], bank: str) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"name: {name[:70]!r} is not a token name (1 to 64 of a-z, 0-9, '.', '_', '-', "
            "starting with a letter or digit)"
        )
    if not scopes:
        raise ValueError("scopes: a token needs at least one scope")
    unknown = sorted(scopes - set(SCOPES))
    if unknown:
        raise ValueError(f"scopes: unknown scope {unknown[0][:40]!r} (one of {', '.join(SCOPES)})")
    if bank and not _ACCOUNT_RE.match(bank):
        raise ValueError(f"bank: {bank[:70]!r} is not an account id")
    if READ_OWN in scopes and not bank:
        raise ValueError("bank: a read:own token needs the bank whose accounts it reads")


# ---- the file ----


def token_file(home: Path) -> Path:
    """Where a home keeps its tokens."""
    return home / API_TOKENS_FILE


def load_tokens(path: Path) -> TokenBook | None:
    """Read the token file: None when there is none (the API is open, see docs/api.md).

    Raises:
        ConfigError: the file cannot be read, is readable by other users, is not JSON, or
            an entry is invalid; the message names the file and the field.
    """
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: mode {mode & 0o777:o} lets other users read it; run chmod 600 {path}"
        )
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON: {str(e)[:120]}") from None
    return TokenBook(_parse_doc(path, doc))


def _parse_doc(path: Path, doc: Any) -> list[ApiToken]:
    def bad(field: str, problem: str) -> ConfigError:
        return ConfigError(f"{path}: {field}: {problem}")

    if not isinstance(doc, dict):
        raise bad("(top level)", "expected an object")
    if doc.get("version") != TOKEN_FILE_VERSION:
        raise bad("version", f"expected {TOKEN_FILE_VERSION}")
    entries = doc.get("tokens")
    if not isinstance(entries, list):
        raise bad("tokens", "expected a list")
    if len(entries) > MAX_TOKENS:
        raise bad("tokens", f"more than {MAX_TOKENS} tokens")
    tokens: list[ApiToken] = []
    names: set[str] = set()
    ids: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"tokens[{i}]"
        if not isinstance(entry, dict):
            raise bad(where, "expected an object")
        extra = sorted(set(entry) - _FIELDS)
        if extra:
            raise bad(f"{where}.{extra[0][:40]}", "unknown field")
        token = _parse_entry(path, where, entry)
        if token.name in names:
            raise bad(f"{where}.name", f"{token.name!r} names another token too")
        if token.token_id in ids:
            raise bad(f"{where}.id", "the id of another token too")
        names.add(token.name)
        ids.add(token.token_id)
        tokens.append(token)
    return tokens


def _parse_entry(path: Path, where: str, entry: dict[str, Any]) -> ApiToken:
    def bad(field: str, problem: str) -> ConfigError:
        return ConfigError(f"{path}: {where}.{field}: {problem}")

    def text(field: str) -> str:
        value = entry.get(field)
        if not isinstance(value, str):
            raise bad(field, "expected a string")
        return value

    def millis(field: str) -> int:
        value = entry.get(field, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise bad(field, "expected Unix milliseconds (an integer)")
        return value

    token_id = text("id")
    if not re.fullmatch(r"[0-9a-f]{16}", token_id):
        raise bad("id", "expected 16 lower-case hex characters")
    digest = text("sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise bad("sha256", "expected 64 lower-case hex characters (the secret's SHA-256)")
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise bad("scopes", "expected a list of strings")
    name, bank = text("name"), text("bank")
    try:
        _check_record(name, frozenset(scopes), bank)
    except ValueError as e:
        field, _, problem = str(e).partition(": ")
        raise bad(field, problem) from None
    return ApiToken(
        name,
        token_id,
        bytes.fromhex(digest),
        frozenset(scopes),
        bank,
        millis("created_ms"),
        millis("revoked_ms"),
    )


def save_tokens(path: Path, tokens: Sequence[ApiToken]) -> None:
    """Replace the token file with tokens (mode 0600, written whole, then renamed).

    Raises:
        ConfigError: it cannot be written.
    """
    doc = {"version": TOKEN_FILE_VERSION, "tokens": [t.public_doc() for t in tokens]}
    data = (json.dumps(doc, indent=2) + "\n").encode()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as e:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write: {e.strerror}") from e


# ---- a running node ----


class TokenHolder:
    """The token book a running API checks against; None while the API is open."""

    def __init__(self, book: TokenBook | None) -> None:
        self.book = book


async def watch_token_file(
    holder: TokenHolder, path: Path, *, interval_s: float = WATCH_INTERVAL_S
) -> None:
    """Reload the token file whenever it changes (checked every interval_s), until cancelled.

    A file that appears switches access control on; a file that became invalid is logged
    and the tokens in force stay; a file that was removed leaves no token in force (the API
    stays closed: access control is switched off only by a restart without the file).
    """
    seen = _file_state(path)
    while True:
        await trio.sleep(interval_s)
        state = _file_state(path)
        if state != seen:
            seen = state
            reload_tokens(holder, path)


def reload_tokens(holder: TokenHolder, path: Path) -> bool:
    """Read the token file again into holder (on a change, or on SIGHUP); False when the
    file is invalid: that is logged and the tokens in force stay. A node that never saw
    the file stays open; one that did stays closed when the file is gone."""
    try:
        book = load_tokens(path)
    except ConfigError as e:
        log.error("API tokens not reloaded, the previous ones stay in force: %s", e)
        return False
    if book is None and holder.book is None:
        return True
    holder.book = book or TokenBook()
    log.info("API tokens reloaded from %s: %d in force", path, _in_force(holder.book))
    return True


def _in_force(book: TokenBook) -> int:
    return sum(not t.revoked for t in book.tokens)


def _file_state(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode)
