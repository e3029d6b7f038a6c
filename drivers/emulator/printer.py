"""The emulated printer: its saved state, its power, and the three parts it is made of.

    commands.CommandTable   the answer to every command of DESIGN.md §9 (``execute``), ``Rst``, ``Rjs``
    mechanism.Mechanism     the card path: feed, print, eject, reject, what interrupts a card, the card log
    faults.Faults           what stops the printer, faults armed for a card, ``inject`` / ``clear`` / ``act``

It knows nothing of ports: ``links`` feeds it frames and sends back what ``execute`` returns.

Jobs: a job is unknown until a card is fed for it; then PRINTING while the card is inside; then DONE (output
hopper) or FAILED (reason). A power loss forgets the job of the card inside: ``Rjs`` answers UNKNOWN, and the
card goes to the reject box when power returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.emulator.commands import CommandTable
from drivers.emulator.config import EmulatorConfig
from drivers.emulator.faults import Action, Fault, Faults, FaultSpec
from drivers.emulator.mechanism import Mechanism
from drivers.emulator.store import SerialRange, StateStore, StoredState
from drivers.protocol import Frame, StatusWords
from drivers.states import PrinterState

__all__ = ["VirtualPrinter"]


def _nothing() -> None:
    pass


class VirtualPrinter:
    """One emulated card printer; ``await execute(frame)`` gives the reply text (None: no answer)."""

    def __init__(self, config: EmulatorConfig, store: StateStore) -> None:
        self.config = config
        self._store = store
        self.state = store.load() or StoredState(
            hopper=[SerialRange.parse(config.serials)],
            ribbon_left=config.ribbon,
            ribbon_capacity=config.ribbon,
        )
        self.powered = True
        self.on_link_drop: Callable[[], None] = _nothing
        self.on_power_loss: Callable[[], None] = _nothing
        self.mechanism = Mechanism(self, store)
        self.faults = Faults(self)
        self.commands = CommandTable(self)

    # -- life cycle -------------------------------------------------------------------------------------

    def boot(self) -> None:
        """Power-on: a card left inside by a power loss (or a killed emulator) goes to the reject box."""
        self.mechanism.boot()
        self.save()

    def arm_scripted_faults(self) -> None:
        """Apply the faults given in the configuration (``card_jam@3``: during the 3rd card from now)."""
        for text in self.config.faults:
            spec = FaultSpec.parse(text)
            self.inject(spec.fault, at_card=spec.at_card)

    def power_off(self) -> None:
        """The power goes: no more answers, the card inside stops where it is, the host's link drops."""
        if not self.powered:
            return
        self.powered = False
        self.mechanism.stop()
        self.save()
        self.on_power_loss()

    def power_on(self) -> None:
        if self.powered:
            return
        self.powered = True
        self.boot()

    def save(self) -> None:
        """Write the state down (``state.json`` with a state directory)."""
        self._store.save(self.state)

    def close(self) -> None:
        self.save()
        self._store.close()

    # -- the host's side ----------------------------------------------------------------------------------

    async def execute(self, frame: Frame) -> str | None:
        """The reply to one command; None when the printer is off (or went off while it worked)."""
        return await self.commands.execute(frame)

    async def hold_reply(self) -> None:
        """Wait before a reply while ``slow_replies`` is on (clearing the fault lets held replies go)."""
        await self.faults.hold_reply()

    @property
    def split(self) -> tuple[int, float] | None:
        """``split_replies``: replies go out in pieces of ``size`` bytes ``pause`` seconds apart."""
        return self.faults.split

    @property
    def reply_delay(self) -> float:
        return self.faults.reply_delay

    @property
    def last_error(self) -> str | None:
        return self.commands.last_error

    @property
    def commands_received(self) -> int:
        return self.commands.received

    def status_words(self) -> StatusWords:
        """The ``Rst`` answer for the printer as it is now."""
        return self.commands.status_words()

    def job_status(self, job: str) -> str:
        """``Rjs``: DONE;serial / PRINTING / FAILED;reason[;serial of the blank used] / UNKNOWN."""
        return self.commands.job_status(job)

    # -- the operator's side ------------------------------------------------------------------------------

    def inject(self, fault: Fault, *, at_card: int | None = None, **params: Any) -> None:
        """Make ``fault`` happen now, or during the ``at_card``-th card from now."""
        self.faults.inject(fault, at_card=at_card, **params)

    def clear(self, fault: Fault) -> None:
        """Take ``fault`` away (and any of its kind still waiting for a card)."""
        self.faults.clear(fault)

    def act(self, action: Action, **params: Any) -> None:
        """Do what an operator does at the printer."""
        self.faults.act(action, **params)

    def card_log(self) -> list[dict[str, Any]]:
        return self.mechanism.card_log()

    def snapshot(self) -> dict[str, Any]:
        """Everything an operator or a test may want to see, as JSON-ready data (``GET /state``)."""
        words = self.status_words()
        state, config, mechanism, faults = self.state, self.config, self.mechanism, self.faults
        inside = state.card_inside
        return {
            "name": config.name,
            "powered": self.powered,
            "state": words.state.value if self.powered else PrinterState.STOPPED.value,
            "reasons": [reason.value for reason in words.reasons] if self.powered else ["offline"],
            "blanks_left": state.blanks_left,
            "next_serial": state.next_blank(),
            "hopper": [str(stack) for stack in state.hopper if stack],
            "ribbon_left": state.ribbon_left,
            "ribbon_capacity": state.ribbon_capacity,
            "cards_printed": state.cards_printed,
            "since_cleaning": state.since_cleaning,
            "output_count": state.output_count,
            "output_capacity": config.output_capacity,
            "rejected_count": state.rejected_count,
            "jammed": state.jammed,
            "cover_open": state.cover_open,
            "forced": sorted(state.forced),
            "card_inside": None if inside is None else {"serial": inside.serial, "job": inside.job},
            "printing": mechanism.printing is not None,
            "sequence_open": mechanism.sequence is not None,
            "cards_fed": mechanism.cards_fed,
            "armed": [{"fault": a.fault.value, "card": a.card - mechanism.cards_fed} for a in faults.armed],
            "reply_delay": faults.reply_delay,
            "split_replies": None if faults.split is None else {"size": faults.split[0], "pause": faults.split[1]},
            "print_time": config.print_time,
            "extensions": sorted(config.extensions),
            "last_error": self.last_error,
            "commands_received": self.commands_received,
            "cards_logged": mechanism.cards_logged,
        }
