"""Pipelines over rankers: score candidate lists into a run (rank, rerank; chunked, resumable,
sharded over processes) and train / cross-validate item rankers on a data directory."""
