"""The SoftHSM2 token of the PKCS#11 signer tests (testnet/_softhsm.py makes it).

Tests marked ``needs_softhsm`` skip, saying why, when Debian's ``softhsm2`` is not
installed (.ci/run installs it).
"""

from __future__ import annotations

import pytest

from testnet._softhsm import PIN_ENV, SOFTHSM_MODULE, Token, softhsm_missing, softhsm_token

needs_softhsm = pytest.mark.skipif(softhsm_missing() is not None, reason=str(softhsm_missing()))

__all__ = ["PIN_ENV", "SOFTHSM_MODULE", "Token", "needs_softhsm", "softhsm_token"]
