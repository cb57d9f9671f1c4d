"""Source adapters: read vendor exports and map them onto the unified schema."""
