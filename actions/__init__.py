"""Rasa custom actions. Thin by design: each calls the domain and records code in
``redress`` and turns the outcome into responses and slot events."""
