"""The records: SQLAlchemy models, sessions and the unit of work."""
