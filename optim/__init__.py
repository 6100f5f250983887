"""Losses, object initialization and the staged optimizer."""
