"""First-stage retrieval and run combination: BM25 through Anserini, rank fusion."""
