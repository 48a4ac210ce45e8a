"""Listwise prompts in rank_llm's template format, and its reading of the answers.

A template is a YAML file of sections (rank_llm's ``prompt_templates/*.yaml``): ``method``
``singleturn_listwise`` (``prefix``, ``body``, ``suffix`` in one user message) or
``multiturn_listwise`` (``prefix_user``/``prefix_assistant``, ``body_user``/``body_assistant``
turns, ``suffix_user``), an optional ``system_message``; ``{query}``, ``{num}``, ``{rank}``,
``{candidate}`` (and ``{psg_ids}``) are filled in. RankGPT's and RankZephyr's ship here
(resources/, rank_llm's wording, Apache-2.0). Rendering follows rank_llm byte for byte (a test
holds it to rank_llm's own code): each passage is stripped, repaired by ftfy, cut to its first
``max_words`` words and its ``[n]`` written ``(n)``; so is the query's ``[n]``.

An answer is read as rank_llm reads it: every run of digits is an id (1-based), repeats and ids
outside the window are dropped, and the ids it leaves out follow in their given order.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import LlmrankError

SHIPPED = ("rank_zephyr", "rank_gpt")
METHODS = {"singleturn_listwise": ("body", ("prefix", "suffix")),
           "multiturn_listwise": ("body_user", ("prefix_user", "prefix_assistant", "suffix_user"))}
_NUMBER = re.compile(r"\[(\d+)\]")
_FIELDS = re.compile(r"{(\w*)}")


def load_template(name: str) -> dict:
    """A shipped template by name, or a YAML file in rank_llm's format; checked before any model
    loads: its method, and the placeholders of its sections."""
    import yaml

    if name in SHIPPED:
        text = resources.files("llmrank_cli.resources").joinpath(f"{name}_template.yaml").read_text()
    elif Path(name).is_file():
        text = Path(name).read_text()
    else:
        raise LlmrankError(f"--template {name!r}: neither {' nor '.join(SHIPPED)} nor a file")
    try:
        template = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LlmrankError(f"--template {name}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(template, dict) or template.get("method") not in METHODS:
        raise LlmrankError(f"--template {name}: method must be one of {', '.join(METHODS)}")
    body, framing = METHODS[template["method"]]
    missing = {"rank", "candidate"} - set(_FIELDS.findall(template.get(body, "")))
    if missing:
        raise LlmrankError(f"--template {name}: its {body} lacks "
                           f"{', '.join('{' + m + '}' for m in sorted(missing))}")
    if "{query}" not in "".join(template.get(s, "") for s in framing):
        raise LlmrankError(f"--template {name}: the query ({{query}}) appears in none of {', '.join(framing)}")
    if "{score}" in template.get(body, ""):
        raise LlmrankError(f"--template {name}: {{score}} (first-stage scores in the prompt) is not supported")
    return template


def _numbers_as_parens(text: str) -> str:
    return _NUMBER.sub(r"(\1)", text)


@lru_cache(maxsize=4096)
def passage_content(text: str, max_words: int) -> str:
    """A passage as the prompt shows it (remembered: windows overlap, and ftfy's repair was a
    third of a fully cached rerank)."""
    from ftfy import fix_text

    return _numbers_as_parens(" ".join(fix_text(text.strip()).split()[:max_words]))


def _fill(template: dict, section: str, **values) -> str:
    text = template.get(section, "")
    return text.format(**values) if text else ""


def render(template: dict, query: str, passages: list[str], max_words: int) -> list[dict]:
    """The chat messages asking to rank ``passages`` (a window, in its current order)."""
    query, num = _numbers_as_parens(query), len(passages)
    contents = [passage_content(p, max_words) for p in passages]
    ids = "[" + ", ".join(f"PASSAGE{i + 1}" for i in range(num)) + "]"
    messages = [{"role": "system", "content": template["system_message"]}] if template.get("system_message") else []
    if template["method"] == "singleturn_listwise":
        body = "".join(_fill(template, "body", rank=i + 1, candidate=c) for i, c in enumerate(contents))
        text = _fill(template, "prefix", num=num, query=query) + body + _fill(template, "suffix", num=num,
                                                                                 query=query, psg_ids=ids)
        return messages + [{"role": "user", "content": text}]
    if template.get("prefix_user"):
        messages += [{"role": "user", "content": _fill(template, "prefix_user", num=num, query=query)},
                     {"role": "assistant", "content": _fill(template, "prefix_assistant", num=num, query=query)}]
    suffix = _fill(template, "suffix_user", num=num, query=query)
    if "body_assistant" in template:
        for i, c in enumerate(contents):
            messages += [{"role": "user", "content": _fill(template, "body_user", rank=i + 1, candidate=c)},
                         {"role": "assistant", "content": _fill(template, "body_assistant", rank=i + 1)}]
        return messages + ([{"role": "user", "content": suffix}] if suffix else [])
    body = "".join(_fill(template, "body_user", rank=i + 1, candidate=c) for i, c in enumerate(contents))
    return messages + [{"role": "user", "content": body + suffix}]


def permutation(answer: str, size: int) -> tuple[list[int], bool]:
    """(0-based order of a window of ``size`` passages, whether the answer named any of them)."""
    if "</think>" in answer:
        answer = answer.split("</think>")[-1].strip()
    digits = "".join(c if c.isdigit() else " " for c in answer.translate(_LOOKALIKES))
    try:
        named = [int(x) - 1 for x in digits.split()]
    except ValueError:  # a digit int() does not read: rank_llm keeps the window as it was
        return list(range(size)), False
    order = [i for i in dict.fromkeys(named) if 0 <= i < size]
    return order + [i for i in range(size) if i not in order], bool(order)


# digits written as superscripts, subscripts, circled, full-width or parenthesised, read as digits
_LOOKALIKES = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹" "₀₁₂₃₄₅₆₇₈₉" "①②③④⑤⑥⑦⑧⑨" "❶❷❸❹❺❻❼❽❾" "０１２３４５６７８９" "🄀🄁🄂🄃🄄🄅🄆🄇🄈🄉",
                            "0123456789" * 2 + "123456789" * 2 + "0123456789" * 2)


def answer_tokens(count, size: int) -> int:
    """Enough new tokens for a whole answer ``[1] > [2] > ... [size]``, plus two; ``count(text)``
    is the model's token count."""
    return count(" > ".join(f"[{i + 1}]" for i in range(size))) + 2
