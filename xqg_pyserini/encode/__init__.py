"""Encoders: the interface and registry (base), HF transformers (hf), offline checkpoints (models), encode jobs (run)."""
