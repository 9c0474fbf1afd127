"""Local stand-ins for the outside world (Graph, the Bot Connector, SMTP) and the rollout simulation.

Used by `peercoach simulate` and by the tests: the real adapters talk to these servers over loopback.
"""
