"""Getting messages to customers reliably: the outbox of messages to send, and the leased
queue that lets several gateways share the work without sending anything twice."""
