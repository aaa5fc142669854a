"""Operators of the service: their tokens for the admin APIs (``tokens.py``) and the command
line that creates, lists and revokes them (``cli.py``)."""
