"""Compensation: the business's rules and caps (``policy``), the exactly-once ledger of offers
and grants (``ledger``), offers in the conversation (``in_conversation``), what operators
decide (``operators``) and see spent (``spend``), and the signed webhook that carries a grant
to the business's own systems (``fulfilment``)."""
