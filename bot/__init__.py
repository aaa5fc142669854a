"""The gateway: ``app.py`` wires it together; ``relay.py`` is the one path every customer
message takes; ``api/`` the HTTP APIs; ``jobs/`` the background work; ``telegram/`` and
``slack/`` the channels."""
