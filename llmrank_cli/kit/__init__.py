"""The transformer kit every ranker with weights shares: where a model name points, device,
dtype and threads, token-budget batches, encoder loading and sentence embeddings, and the
frozen-layer cache that fine-tunes only an encoder's top layers."""
