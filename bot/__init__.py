"""The gateway: customer channels, the web chat and records APIs, and the path to Rasa."""
