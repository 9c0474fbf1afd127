"""lrs_bridge: learning records -> xAPI statements -> SQL outbox -> a Learning Record Store.

Independent of ``teams_app`` (it never imports it): callers pass plain settings values.

Typical use::

    builder = StatementBuilder(activity_base_iri=..., actor_identification="mbox")
    async with engine.begin() as conn:          # the business transaction
        ...                                     # the change itself
        await enqueue(conn, [builder.build(record)])   # lrs_bridge.outbox.enqueue
    # elsewhere (``peercoach serve`` or ``peercoach lrs relay``):
    async with LrsClient(endpoint, username=..., password=...) as client:
        await Relay(engine, client, batch_size=...).run_forever(stop_event)

Modules: ``records`` (what happened), ``statements`` (records -> tincan statements, serialization),
``vocabulary`` (every IRI), ``profile`` (the JSON-LD xAPI profile), ``outbox`` (table, enqueue, status,
dead letters), ``client`` (async xAPI client), ``relay`` (delivery), ``check`` (``lrs check``).
"""
