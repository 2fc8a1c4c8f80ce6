"""Scoring runs: ir-measures metrics, tables."""
