"""Known incidents: the model and its plain-language explanation, the records that tie
complaints to an incident, and the notices that keep affected customers informed."""
