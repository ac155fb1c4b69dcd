"""Consensus timing and resource parameters."""

from __future__ import annotations

from dataclasses import dataclass

from consensus._types import Step


@dataclass(frozen=True, slots=True)
class ConsensusParams:
    """Timeouts (milliseconds) and bounds.

    A timeout grows linearly with the round, ``base + delta * round``, and never beyond
    ``timeout_max_ms``: exponential growth has stalled other BFT networks for hours after a
    long partition. The round-0 propose timeout also allows for ``empty_block_interval_ms``,
    because the driver answers ``RequestProposalValue`` only when transactions are waiting or
    the empty-block interval has passed.

    Attributes:
        timeout_propose_ms: wait for the round's proposal.
        timeout_prevote_ms: wait after +2/3 prevotes of any kind.
        timeout_precommit_ms: wait after +2/3 precommits of any kind.
        timeout_delta_ms: added per round to each of the three.
        timeout_max_ms: cap of any timeout.
        empty_block_interval_ms: heartbeat interval of empty blocks (round 0 only).
        max_round_ahead: messages for rounds further ahead than this are ignored.
        max_future_per_validator: buffered messages for the next height, per validator
            (only messages whose signature verified count).
        max_proposals_per_round: distinct proposals kept per round (equivocation bound).
    """

    timeout_propose_ms: int = 3_000
    timeout_prevote_ms: int = 1_000
    timeout_precommit_ms: int = 1_000
    timeout_delta_ms: int = 500
    timeout_max_ms: int = 60_000
    empty_block_interval_ms: int = 5_000
    max_round_ahead: int = 100
    max_future_per_validator: int = 32
    max_proposals_per_round: int = 4

    def __post_init__(self) -> None:
        for name in (
            "timeout_propose_ms",
            "timeout_prevote_ms",
            "timeout_precommit_ms",
            "timeout_delta_ms",
            "empty_block_interval_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.timeout_max_ms <= 0:
            raise ValueError("timeout_max_ms must be positive")
        if min(self.max_round_ahead, self.max_future_per_validator) < 1:
            raise ValueError("bounds must be at least 1")
        if self.max_proposals_per_round < 1:
            raise ValueError("max_proposals_per_round must be at least 1")

    def timeout_ms(self, step: Step, round_: int) -> int:
        """The timeout of step (PROPOSE, PREVOTE or PRECOMMIT) in round."""
        if step is Step.PROPOSE:
            base = self.timeout_propose_ms
            if round_ == 0:
                base += self.empty_block_interval_ms
        elif step is Step.PREVOTE:
            base = self.timeout_prevote_ms
        elif step is Step.PRECOMMIT:
            base = self.timeout_precommit_ms
        else:
            raise ValueError(f"no timeout for step {step.name}")
        return min(base + self.timeout_delta_ms * round_, self.timeout_max_ms)
