"""A SoftHSM2 token of one's own, for tests and benchmarks of the PKCS#11 signer.

SoftHSM2 (Debian package ``softhsm2``) keeps its tokens in the directory its config file
names, and reads ``SOFTHSM2_CONF`` when its module is initialised: ``softhsm_token``
writes a config with a fresh token directory, initialises a free slot as a token, and
points ``SOFTHSM2_CONF`` and the PIN variable of this process (and its children, such as
node processes) at it for the duration.
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

from node.config import SignerSettings

SOFTHSM_MODULE: Final = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL: Final = "tenge-test"
PIN: Final = "4711-test"
PIN_ENV: Final = "TENGE_TEST_HSM_PIN"


def softhsm_missing() -> str | None:
    """Why SoftHSM2 cannot be used here, or None when it can."""
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).exists():
        return "softhsm2 not installed (apt-get install --no-install-recommends softhsm2)"
    return None


@dataclass(frozen=True, slots=True)
class Token:
    """An initialised token; ``settings`` is a pkcs11 [signer] that uses it."""

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
    """Initialise a free slot as TOKEN_LABEL (user PIN ``PIN``) with its token files in
    directory; SOFTHSM2_CONF and PIN_ENV point at it until the block ends.

    Raises:
        subprocess.CalledProcessError: softhsm2-util failed.
    """
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
        subprocess.run(
            [
                "softhsm2-util",
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
