"""What every use-case class shares: the unit of work factory, the message bus, the clock."""

from __future__ import annotations

from teams_app.domain.errors import NotFound
from teams_app.domain.model import Program
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Clock, UnitOfWork, UnitOfWorkFactory


class UseCases:
    """Each use case opens a unit of work, changes the domain, records events and commits through the bus,
    so the in-transaction handlers (learning records, notifications) see the events in the same transaction."""

    def __init__(self, uow_factory: UnitOfWorkFactory, bus: MessageBus, clock: Clock) -> None:
        self._uow = uow_factory
        self._bus = bus
        self._clock = clock

    @staticmethod
    async def _program(uow: UnitOfWork, ref: str) -> Program:
        program = await uow.programs.get(ref) or await uow.programs.get_by_name(ref)
        if program is None:
            raise NotFound("program", ref)
        return program
