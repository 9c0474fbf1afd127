"""lrs_bridge: learning records -> xAPI statements -> SQL outbox -> a Learning Record Store.

Independent of ``teams_app``: callers pass plain settings values to the constructors.
"""
