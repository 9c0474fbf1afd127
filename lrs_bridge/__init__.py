"""xAPI learning records for peercoach: statements, the xAPI profile, the outbox and delivery to an LRS."""
