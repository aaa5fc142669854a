"""Compensation: the business's policy and its caps (``policy``), the exactly-once ledger of
offers and grants (``ledger``), what operators decide and see (``operators``), and the
signed webhook that carries a grant to the business's own systems (``fulfilment``)."""
