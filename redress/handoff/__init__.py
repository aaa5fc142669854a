"""Handing a conversation to a person: the handoff records (requested, taken over, handed
back, resolved), posting each one to the agents, the customer's wait, and reply times."""
