"""Integrations with training frameworks, trackers and cluster engines (optional extras)."""
