"""edassets: K-12 roster and learning data from every platform into one validated, audited warehouse."""
