"""``lead-cross-encoder``: the cross-encoder reading only each passage's first ``--lead-words``
words, in training and scoring alike (a passage's lead often carries its answer, and short
inputs score faster). The contract's example of a trainable passage ranker: this file is all it
takes; it learns from passage examples with its own trainer (the cross-encoder's, on the cut
passages) and reranks with `rerank --kind lead-cross-encoder --lead-words N`."""
import dataclasses
from dataclasses import dataclass

from llmrank_cli.rankers import register, settings_for
from llmrank_cli.rankers.base import Runtime, setting
from llmrank_cli.rankers.cross_encoder import CrossEncoderRanker
from llmrank_cli.training.hf import TrainSettings, train


@dataclass
class LeadSettings(TrainSettings):
    lead_words: int = setting(32, "Read each passage's first N words only.", min=1, scoring=True)


def lead(passages: list[str], words: int) -> list[str]:
    return [" ".join(p.split()[:words]) for p in passages]


@register("lead-cross-encoder")
class LeadCrossEncoder(CrossEncoderRanker):
    Settings = LeadSettings

    @staticmethod
    def trainer(settings, examples, out, *args, **kwargs):
        cut = [(q, lead(ps, settings.lead_words), labels) for q, ps, labels in examples.groups]
        return train(settings, dataclasses.replace(examples, groups=cut), out, *args, **kwargs)

    @classmethod
    def open(cls, model: str, runtime: Runtime = Runtime(), max_length: int | None = None, batch_size: int = 64,
             lead_words: int | None = None, **options) -> "LeadCrossEncoder":
        ranker = super().open(model, runtime, max_length, batch_size)
        ranker.settings = settings_for(cls.name, lead_words=lead_words)
        return ranker

    def score_pairs(self, queries: list[str], passages: list[str]):
        return super().score_pairs(queries, lead(passages, self.settings.lead_words))
