"""Search: dense (FAISS dirs, Pyserinis FaissSearcher), exact in-memory, sparse (Lucene BM25), hybrid (run fusion)."""
