"""Training: optimizers, item-ranker losses and loop, passage cross-encoder fine-tuning."""
