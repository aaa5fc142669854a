"""What a complaint is and how the assistant answers one: the categories and severity, the
apology's wording, "since when", the complaint records, and filing a complaint (``filing``)."""
