"""Redress: complaint handling for businesses that got it wrong.

This package is the domain and records code that the gateway (``bot``) and the Rasa custom
actions (``actions``) share. It knows nothing of Rasa or of channels. It is grouped by
feature:

- ``complaints/``: categories, severity, the apology's wording, "since when", complaint records
- ``conversations/``: conversations, messages, buttons, events, customers, the record views
- ``incidents/``: the incident model, its records, and notices to affected customers
- ``compensation/``: the policy and its limits, the ledger, operators' approvals, fulfilment
- ``handoff/``: handoffs to a person, posting them to the agents, the customer's wait, reply times
- ``delivery/``: the outbox and the leased queue several gateways share
- ``db/``: the models and sessions; ``clock.py``: the one UTC clock
- ``business.py`` (the business folder), ``settings.py`` (the environment),
  ``alerts.py`` (operator alerts), ``plain_language.py`` (the checks every customer text passes)
"""
