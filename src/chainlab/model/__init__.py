"""Segment frames, joint centres and joint angles built from markers (vectorised over frames)."""
