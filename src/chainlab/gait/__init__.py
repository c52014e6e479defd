"""Gait events, cycles and the coupling of the chain within a stride."""
