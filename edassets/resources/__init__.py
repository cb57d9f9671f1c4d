"""Dagster resources shared by edassets assets."""
