"""The lander's rebalance listener, for landers in a consumer group.

Kafka calls it inside ``poll`` (on kafka-python's IO thread, while the lander's loop
waits in that poll), so it makes no blocking consumer calls: offsets recovered for new
partitions are committed once the poll returns (``Lander.assigned``)."""

from __future__ import annotations

from typing import Protocol

from kafka import ConsumerRebalanceListener


class Owner(Protocol):
    """What the listener needs of a lander (``Lander``)."""

    def assigned(self, partitions: list[int]) -> None: ...

    def give_up(self, partitions: list[int], finish: bool) -> None: ...


class Rebalance(ConsumerRebalanceListener):
    """Revoked: land the open batches (still owned); lost: drop them (the group moved
    on); assigned: claim and recover."""

    def __init__(self, lander: Owner) -> None:
        self.lander = lander

    def on_partitions_revoked(self, revoked) -> None:
        self.lander.give_up(sorted(tp.partition for tp in revoked), finish=True)

    def on_partitions_lost(self, lost) -> None:
        self.lander.give_up(sorted(tp.partition for tp in lost), finish=False)

    def on_partitions_assigned(self, assigned) -> None:
        self.lander.assigned(sorted(tp.partition for tp in assigned))
