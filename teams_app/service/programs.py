"""Programs: create, change, list, and the admin pair rules (block, forbid, force)."""

from __future__ import annotations

from typing import Any

from teams_app.domain import events as ev
from teams_app.domain.errors import (
    InvalidInput,
    NotFound,
)
from teams_app.domain.model import (
    Program,
)
from teams_app.service.base import UseCases


class Programs(UseCases):
    async def create_program(self, name: str, kind: str, cadence: str, **options: Any) -> Program:
        now = self._clock.now()
        options.setdefault("next_round_at", None)
        program = Program.create(name, kind, cadence, created_at=now, **options)
        async with self._uow() as uow:
            if await uow.programs.get_by_name(program.name):
                raise InvalidInput("name", f"a program called '{program.name}' already exists")
            await uow.programs.add(program)
            uow.events.append(ev.ProgramCreated(f"program-created/{program.id}", now, program.id))
            await self._bus.commit(uow)
        return program

    async def update_program(self, ref: str, **changes: Any) -> Program:
        now = self._clock.now()
        async with self._uow() as uow:
            program = await self._program(uow, ref)
            updated = program.with_changes(**changes)
            await uow.programs.update(updated)
            uow.events.append(ev.ProgramUpdated(f"program-updated/{program.id}/{now.isoformat()}", now,
                                                program.id))
            await self._bus.commit(uow)
        return updated

    async def get_program(self, ref: str) -> Program:
        async with self._uow() as uow:
            return await self._program(uow, ref)

    async def list_programs(self) -> list[Program]:
        async with self._uow() as uow:
            return await uow.programs.all()

    async def add_pair_rule(self, program_ref: str, a_email: str, b_email: str, rule: str) -> None:
        if rule not in ("block", "forbid", "force"):
            raise InvalidInput("rule", "must be block, forbid or force")
        async with self._uow() as uow:
            program = await self._program(uow, program_ref)
            ids = []
            for email in (a_email, b_email):
                person = await uow.participants.get_by_email(email.strip().lower())
                if person is None:
                    raise NotFound("participant", email)
                ids.append(person.id)
            await uow.pair_rules.add(program.id, ids[0], ids[1], rule)
            await self._bus.commit(uow)
