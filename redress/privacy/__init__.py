"""Personal data: found and masked where it is not needed, requests from customers about it,
erasure and export in every store, and retention (docs/privacy.md)."""
