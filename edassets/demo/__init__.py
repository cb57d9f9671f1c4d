"""Demo worlds: a deterministic synthetic district written in real vendor file formats."""
