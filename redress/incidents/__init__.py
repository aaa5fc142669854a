"""Known incidents: the model and matching (``model``), what customers are told
(``wording``), the records (``records``), the notices that keep affected customers informed
(``notices``), alerts for an incident nobody has declared yet (``possible``), and an
incident as a conversation meets it (``in_conversation``)."""
