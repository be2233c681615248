"""Shared risk data. The models arrive with the identifier standard and flags."""
