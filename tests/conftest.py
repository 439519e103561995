"""Shared pytest settings: fixture notebooks are test data, not notebooks for nbval to execute."""
collect_ignore_glob = ["fixtures/*"]
