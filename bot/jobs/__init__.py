"""The gateway's background work: delivering the outbox, sending granted compensation to the
billing webhook, applying the retention periods of business/privacy.yml, and the scheduler
that runs every interval job."""
