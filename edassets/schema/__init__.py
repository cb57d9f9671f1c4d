"""The unified K-12 schema: entities, code sets and their storage types."""
