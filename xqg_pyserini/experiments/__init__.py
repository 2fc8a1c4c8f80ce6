"""End-to-end jobs built from the stage functions."""
