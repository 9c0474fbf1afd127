"""Peercoach: peer coaching in Microsoft Teams and email, recorded in xAPI."""

__version__ = "0.1.0"
