"""Asset factory: platform specs -> partitioned raw/parsed/validated/loaded assets and their checks."""
