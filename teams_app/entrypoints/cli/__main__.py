"""``python -m teams_app.entrypoints.cli``: the same as the ``peercoach`` script."""

from teams_app.entrypoints.cli import main

main(prog_name="peercoach")
