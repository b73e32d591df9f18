"""Accounts and tokens: the SQLite database of accounts and hashed tokens, and its in-memory cache."""
