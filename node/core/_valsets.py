"""Validator sets in their stored form, and the hash a block header carries for one."""

from __future__ import annotations

import hashlib

import consensus as cs
from proto import ledger_pb2


def validator_set_to_bytes(valset: cs.ValidatorSet) -> bytes:
    """Serialized ``tenge.v1.ValidatorSet`` (keys in the set's deterministic order)."""
    msg = ledger_pb2.ValidatorSet(
        validators=[ledger_pb2.Validator(public_key=k, power=valset.power(k)) for k in valset]
    )
    return msg.SerializeToString(deterministic=True)


def validator_set_from_bytes(raw: bytes) -> cs.ValidatorSet:
    """The consensus validator set of a serialized ``tenge.v1.ValidatorSet``.

    Raises:
        InvalidValidatorSet: the stored set is not a valid consensus set.
    """
    msg = ledger_pb2.ValidatorSet.FromString(raw)
    return cs.ValidatorSet({v.public_key: v.power for v in msg.validators})


def validators_hash(valset: cs.ValidatorSet) -> bytes:
    """The hash a block header carries for the validator set that runs it."""
    return hashlib.sha256(validator_set_to_bytes(valset)).digest()
