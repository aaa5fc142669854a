"""Conversations and what is said in them: messages, buttons, events, the customer behind
a conversation, and the whole record as the records API returns it."""
