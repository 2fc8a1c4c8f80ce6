"""Readers and writers for every file the pipeline passes between stages."""
