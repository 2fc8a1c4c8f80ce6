"""Cross-lingual generation: generators behind one interface, and the sharded resumable runner."""
