"""Local stand-ins for the outside world: Microsoft Graph, the Bot Connector and an SMTP server.

Used by the tests, the benchmarks and ``peercoach simulate`` (``teams_app/entrypoints/simulate.py``): the
real adapters talk to these servers over loopback. Nothing in the application imports them.
"""
