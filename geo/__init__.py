"""Pure geometry: parsing, projection, measuring and indexing. No database, no Telegram, no X."""
