"""Validator sets: voting power, thresholds and the weighted round-robin proposer.

Who applies updates, and when: the ledger executes block H and hands its validator
updates to the driver; the driver computes ``set(H + 2) = set(H + 1).apply_updates(u)`` and
keeps the per-height sets. The engine is always given the set of the height it runs
(``HeightCommitted.next_validator_set`` is the set for the next height). Delaying by two
heights means that, while height H + 1 runs, every validator already knows the set that will
run H + 2, so messages that arrive early for the next height can be checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from consensus._errors import InvalidValidatorSet

# The limits of a validator set, the one source for consensus, the ledger and genesis.
MAX_KEY_SIZE: Final = 64
MAX_VALIDATORS: Final = 1_000
MAX_TOTAL_POWER: Final = 1 << 60
# The proposer schedule has one slot per unit of (gcd-reduced) power: keep it bounded.
MAX_SCHEDULE_LENGTH: Final = 1 << 16


def validator_set_error(powers: Mapping[bytes, int]) -> str | None:
    """Why powers is not a valid validator set, or None when it is.

    The ledger calls this on the set an UpdateValidator would produce, and genesis
    validation on the genesis set, so every set they accept is one ``ValidatorSet``
    accepts (the limits live here only).

    Args:
        powers: public key -> voting power.

    Returns:
        A sentence naming the broken limit, or None.
    """
    if not powers:
        return "a validator set needs at least one validator"
    if len(powers) > MAX_VALIDATORS:
        return f"at most {MAX_VALIDATORS} validators"
    for key, power in powers.items():
        if not isinstance(key, bytes) or not 0 < len(key) <= MAX_KEY_SIZE:
            return f"a validator key is 1 to {MAX_KEY_SIZE} bytes"
        if not isinstance(power, int) or isinstance(power, bool) or power <= 0:
            return f"validator {key.hex()}: power must be a positive int"
    total = sum(powers.values())
    if total > MAX_TOTAL_POWER:
        return f"total power above {MAX_TOTAL_POWER}"
    if total // math.gcd(*powers.values()) > MAX_SCHEDULE_LENGTH:
        return (
            "voting powers are too fine-grained for the schedule: total power divided by "
            f"the powers' gcd is above {MAX_SCHEDULE_LENGTH}"
        )
    return None


class ValidatorSet:
    """An immutable map from public key to voting power, in a deterministic order.

    Validators are ordered by public key bytes. Thresholds follow the paper's n = 3f + 1
    reading by power: a quorum is strictly more than 2/3 of the total power, and the round
    skip rule (Algorithm 1, line 55) needs strictly more than 1/3.

    Raises:
        InvalidValidatorSet: the set breaks a limit (see ``validator_set_error``).
    """

    __slots__ = ("_keys", "_powers", "_schedule", "_total")

    def __init__(self, powers: Mapping[bytes, int]) -> None:
        error = validator_set_error(powers)
        if error is not None:
            raise InvalidValidatorSet(error)
        self._keys: tuple[bytes, ...] = tuple(sorted(powers))
        self._powers: dict[bytes, int] = {k: powers[k] for k in self._keys}
        self._total = sum(self._powers.values())
        self._schedule: tuple[int, ...] | None = None

    @property
    def total_power(self) -> int:
        """The sum of all voting powers."""
        return self._total

    @property
    def quorum(self) -> int:
        """The least power that is strictly more than 2/3 of the total (2f + 1)."""
        return self._total * 2 // 3 + 1

    @property
    def one_third(self) -> int:
        """The least power that is strictly more than 1/3 of the total (f + 1)."""
        return self._total // 3 + 1

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._powers

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorSet) and self._powers == other._powers

    def __hash__(self) -> int:
        return hash(tuple(self._powers.items()))

    def __repr__(self) -> str:
        return f"ValidatorSet({len(self)} validators, total power {self._total})"

    def power(self, key: bytes) -> int:
        """The voting power of key, 0 for a key outside the set."""
        return self._powers.get(key, 0)

    def items(self) -> Iterable[tuple[bytes, int]]:
        """(public key, power) pairs in the set's order."""
        return self._powers.items()

    def proposer(self, height: int, round_: int) -> bytes:
        """The proposer of (height, round): weighted round-robin, the same on every node.

        The schedule is one period of smooth weighted round-robin over the gcd-reduced
        powers: a validator with twice the power proposes twice as often, and its turns are
        spread out rather than consecutive. Slot (height + round) mod period is used, so a
        failed round moves to the next proposer and consecutive heights rotate.
        """
        schedule = self._schedule
        if schedule is None:
            schedule = self._schedule = self._build_schedule()
        return self._keys[schedule[(height + round_) % len(schedule)]]

    def _build_schedule(self) -> tuple[int, ...]:
        divisor = math.gcd(*self._powers.values())
        weights = [self._powers[k] // divisor for k in self._keys]
        period = sum(weights)
        current = [0] * len(weights)
        slots: list[int] = []
        for _ in range(period):
            best = 0
            for i, weight in enumerate(weights):
                current[i] += weight
                if current[i] > current[best]:
                    best = i
            current[best] -= period
            slots.append(best)
        return tuple(slots)

    def apply_updates(self, updates: Iterable[tuple[bytes, int]]) -> ValidatorSet:
        """A new set with updates applied in order: power 0 removes, any other sets it.

        Raises:
            InvalidValidatorSet: a negative power, removing an absent key, or an empty or
                otherwise invalid result.
        """
        powers = dict(self._powers)
        for key, power in updates:
            if not isinstance(power, int) or power < 0:
                raise InvalidValidatorSet("an update's power must be a non-negative int")
            if power == 0:
                if key not in powers:
                    raise InvalidValidatorSet(f"cannot remove unknown validator {key.hex()}")
                del powers[key]
            else:
                powers[key] = power
        return ValidatorSet(powers)
