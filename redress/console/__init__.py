"""The operator console: finding, listing and exporting cases, and the pages built on them."""
