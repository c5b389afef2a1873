"""Prometheus metrics of the broker: ``registry`` (one per broker, and its endpoint), ``ops`` (timing the
VM verbs and the store calls), ``gauges`` (what the config store holds, and reconcile repairs)."""
