"""Additions to Rasa that run in the Rasa environment (``.venv-rasa``), not ours."""
