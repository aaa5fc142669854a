"""The operator console at /console: server-rendered pages for the people who run the service."""
