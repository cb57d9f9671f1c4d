"""The sandbox: a deterministic synthetic K-12 world and every provider's view of it (ARCHITECTURE decision 9)."""
