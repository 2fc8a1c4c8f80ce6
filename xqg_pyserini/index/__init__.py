"""Augmented dense indexes: fuse generated-query vectors into passage vectors, write FAISS."""
