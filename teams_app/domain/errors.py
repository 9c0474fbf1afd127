"""Domain errors: named exceptions whose messages tell a person what to fix."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``str(error)`` is safe to show to the person who caused it."""


class InvalidInput(DomainError):
    """A value is missing or out of range. ``field`` names it so cards and CSV reports can point at it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidInputs(DomainError):
    """Several values are wrong at once (a profile card, a CSV row)."""

    def __init__(self, problems: list[InvalidInput]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class NotFound(DomainError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} '{key}' was not found")
        self.what = what
        self.key = key


class ConsentRequired(DomainError):
    def __init__(self) -> None:
        super().__init__("nobody is enrolled without opting in: please confirm that you want to take part")


class AlreadyEnrolled(DomainError):
    def __init__(self, program: str) -> None:
        super().__init__(f"you are already enrolled in '{program}'")


class NotEnrolled(DomainError):
    def __init__(self, program: str) -> None:
        super().__init__(f"you are not enrolled in '{program}': say 'join' to take part")


class InvalidTransition(DomainError):
    """The action does not fit the current state (e.g. resume when not paused)."""


class NotAllowed(DomainError):
    """The person may not do this (e.g. an admin command from a non-admin)."""
