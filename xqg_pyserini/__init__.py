"""xQG passage augmentation for dense retrieval, as a Pyserini extension."""

__version__ = "0.1.0"
