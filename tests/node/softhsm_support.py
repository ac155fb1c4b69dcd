"""A SoftHSM2 token made by the test itself: its own SOFTHSM2_CONF and token directory.

Skips, saying why, when Debian's ``softhsm2`` is not installed (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from node.config import SignerSettings

SOFTHSM_MODULE: Final = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_UTIL: Final = shutil.which("softhsm2-util")
TOKEN_LABEL: Final = "tenge-test"
PIN: Final = "4711-test"
PIN_ENV: Final = "TENGE_TEST_HSM_PIN"

needs_softhsm = pytest.mark.skipif(
    SOFTHSM_UTIL is None or not Path(SOFTHSM_MODULE).exists(),
    reason="softhsm2 not installed (apt-get install --no-install-recommends softhsm2)",
)


@dataclass(frozen=True, slots=True)
class Token:
    """An initialised token: the settings of a pkcs11 [signer] that uses it."""

    conf: Path

    def settings(self, key_label: str = "validator") -> SignerSettings:
        return SignerSettings(
            kind="pkcs11",
            module=SOFTHSM_MODULE,
            token_label=TOKEN_LABEL,
            key_label=key_label,
            pin_env=PIN_ENV,
        )


@contextmanager
def softhsm_token(directory: Path) -> Iterator[Token]:
    """Initialise a free SoftHSM2 slot as TOKEN_LABEL (user PIN ``PIN``) in directory, and
    point SOFTHSM2_CONF and PIN_ENV of this process (and its children) at it."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    saved = {name: os.environ.get(name) for name in ("SOFTHSM2_CONF", PIN_ENV)}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ[PIN_ENV] = PIN
    try:
        assert SOFTHSM_UTIL is not None
        subprocess.run(
            [
                SOFTHSM_UTIL,
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--pin",
                PIN,
                "--so-pin",
                "so-" + PIN,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield Token(conf)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
