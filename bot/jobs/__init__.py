"""The gateway's background work: delivering the outbox, sending granted compensation to the
billing webhook, and the scheduler that runs every interval job."""
