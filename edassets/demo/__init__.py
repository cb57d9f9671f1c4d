"""The demo: the sandbox world's districts synced through every platform they use."""
