"""Old path of the ``lrs`` command group, kept for ``python -m teams_app.entrypoints.cli_lrs`` and old imports.

The commands live in :mod:`teams_app.entrypoints.cli.lrs`.
"""

from teams_app.entrypoints.cli.lrs import lrs

__all__ = ["lrs"]

if __name__ == "__main__":
    lrs()
