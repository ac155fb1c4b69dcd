"""The signature cache: outcomes computed off the cache, merged, bounded, thread-tolerant."""

from __future__ import annotations

import hashlib
import threading

from node.keys import TX_DOMAIN, KeyPair, sign_bytes
from node.ledger._verify import SignatureCache, first_invalid_signature
from proto import ledger_pb2


def test_detached_outcomes_match_the_cache_and_are_remembered() -> None:
    cache = SignatureCache("chain", max_entries=10)
    key = KeyPair.from_seed(b"\x01" * 32)
    body = b"body"
    good = ledger_pb2.Signature(
        public_key=key.public_key, signature=key.sign(sign_bytes(TX_DOMAIN, "chain", body))
    )
    bad = ledger_pb2.Signature(public_key=key.public_key, signature=b"\x00" * 64)
    assert first_invalid_signature(cache.prefix, body, [good]) == -1
    assert first_invalid_signature(cache.prefix, body, [good, bad]) == 1
    assert cache.lookup(b"h") is None
    cache.remember(b"h", 1)
    assert cache.lookup(b"h") == 1
    assert cache.first_invalid(b"h", body, [good]) == 1  # the remembered outcome wins


def test_two_writer_threads_evicting_at_once_never_fail_and_stay_bounded() -> None:
    cache = SignatureCache("chain", max_entries=64)
    errors: list[BaseException] = []

    def fill(tag: bytes) -> None:
        try:
            for i in range(40_000):
                cache.remember(hashlib.sha256(tag + i.to_bytes(4, "big")).digest(), -1)
        except BaseException as e:  # pragma: no cover - what the test looks for
            errors.append(e)

    threads = [threading.Thread(target=fill, args=(t,)) for t in (b"a", b"b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 64
