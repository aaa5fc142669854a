"""What a complaint is and how the assistant answers one: the categories and severity,
the apology's wording, "since when", and the complaint records."""
