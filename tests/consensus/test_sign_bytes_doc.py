"""The worked sign-bytes examples of docs/consensus.md are what the code signs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consensus import VoteType, proposal_sign_bytes, vote_sign_bytes

DOC = Path(__file__).resolve().parents[2] / "docs" / "consensus.md"


def documented_hex(name: str) -> bytes:
    """The first column of the code block after ``<!-- sign-bytes: name -->``, as bytes."""
    match = re.search(rf"<!-- sign-bytes: {name} -->\n```\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None, f"no {name} example in {DOC.name}"
    return bytes.fromhex("".join(line.split()[0] for line in match.group(1).splitlines()))


CASES = {
    "vote": vote_sign_bytes("tenge-1", VoteType.PRECOMMIT, 42, 1, b"\xab" * 32),
    "proposal": proposal_sign_bytes("tenge-1", 42, 2, -1, b"\xcd" * 32),
}


@pytest.mark.parametrize("name", list(CASES))
def test_documented_sign_bytes_equal_the_code(name: str) -> None:
    assert documented_hex(name) == CASES[name]


def test_documented_lengths_match() -> None:
    text = DOC.read_text()
    assert f"block hash\n`ab` × 32, {len(CASES['vote'])} bytes" in text
    assert f"`cd` × 32, {len(CASES['proposal'])} bytes" in text
