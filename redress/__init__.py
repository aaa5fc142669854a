"""Redress: complaint handling for businesses that got it wrong.

This package is the domain and records code that the gateway (``bot``) and the Rasa custom
actions (``actions``) share. It knows nothing of Rasa or of channels.
"""
