"""Cases: every complaint the assistant logs is a case owned by a team (business/teams.yml),
with the promises made to the customer about it and each time it was resolved."""
