"""What happens on a handoff to a person: its records (requested, taken over, handed back,
resolved), posting it to the agents, the customer's wait, "is it fixed?" and the rating
afterwards (``feedback``), and reply times."""
