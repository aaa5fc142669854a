"""The gateway's HTTP APIs: the web chat, the records, incidents, compensation and operator
alerts, with what they share in ``_http.py``; ``routes.py`` lists them all."""
