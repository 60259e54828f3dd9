"""Open-domain question answering: answer normalisation, exact match / token F1, and loaders.

Scoring follows the SQuAD / HotpotQA evaluation scripts so numbers compare with published ones:
lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace; exact match
and token F1 each take the best over the gold aliases. As in HotpotQA's script, a yes/no answer
gets no partial credit ("yes it is" against "yes" scores F1 0), since token overlap would reward
hedging on a binary question.

Only the closed-book HotpotQA file ships with ../shared/data. The other loaders read a file
the user downloads, unchanged, in the dataset's published format (each class's docstring
says which), from `<data dir>/<task name>/<file>`.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from agentnet.errors import ConfigError
from agentnet.graph import DecisionKind
from agentnet.task_types import Item, Score
from agentnet.tasks.base import FileTask
from agentnet.tasks.choice import extract_choice

ANSWER_FORMAT = (
    "End your reply with the final answer alone, a short phrase (yes or no for a yes/no question), "
    "between <A> and </A>."
)
"""Appended to every QA question: the decision agent's role card does not know the QA format."""

QA_ROLES = ("qa_expert", "qa_expert", "qa_expert")

# ---------------------------------------------------------------- normalisation and metrics

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_BINARY = {"yes", "no", "noanswer"}


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: 'The Eiffel-Tower!' -> 'eiffeltower' (punctuation goes without a space)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold alias."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1(pred: str, gold: str) -> float:
    if (pred in _BINARY or gold in _BINARY) and pred != gold:
        return 0.0
    pred_tokens, gold_tokens = pred.split(), gold.split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """Best token-overlap F1 of the prediction over the gold aliases (0.0 with no golds)."""
    pred = normalize_answer(prediction)
    return max((_f1(pred, normalize_answer(g)) for g in golds), default=0.0)


def qa_score(prediction: str, golds: Sequence[str]) -> Score:
    """Score.value is F1 (Optima's metric); details carry both em and f1."""
    em, f1 = exact_match(prediction, golds), token_f1(prediction, golds)
    return Score(f1, prediction, {"em": em, "f1": f1})


# ---------------------------------------------------------------- extraction

_TAGGED = re.compile(r"<A>(.*?)</A>", re.IGNORECASE | re.DOTALL)
_OPEN_TAG = re.compile(r"<A>([^<]*)$", re.IGNORECASE)
_ANSWER_IS = re.compile(r"\banswer(?: is|\s*:)[:\s*]*([^\n]+)", re.IGNORECASE)
_TRIM = " \t*\"'`"


def _clean(text: str) -> str:
    text = text.strip().strip(_TRIM).strip()
    return text[:-1].rstrip() if text.endswith(".") else text


def extract_qa_answer(output: str) -> str:
    """The last `<A>…</A>`, else the last 'The answer is X' / 'Answer: X', else the first line.

    A trailing unclosed `<A>X` counts as tagged: generation limits often cut the closing tag.
    """
    tagged = _TAGGED.findall(output)
    if tagged:
        return _clean(tagged[-1])
    unclosed = _OPEN_TAG.search(output.strip())
    if unclosed and unclosed.group(1).strip():
        return _clean(unclosed.group(1))
    stated = _ANSWER_IS.findall(output)
    if stated:
        return _clean(stated[-1])
    lines = [line for line in output.splitlines() if line.strip()]
    return _clean(lines[0]) if lines else ""


# ---------------------------------------------------------------- record parts


def _text(record: dict[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} is not a non-empty string")
    return value.strip()


def _paragraphs(record: dict[str, Any]) -> list[tuple[str, str]]:
    """HotpotQA-style `context: [[title, [sentence, ...]], ...]` as (title, paragraph) pairs."""
    context = record["context"]
    if not isinstance(context, list):
        raise ValueError("context is not a list")
    paragraphs = []
    for entry in context:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], list)
            and all(isinstance(s, str) for s in entry[1])
        ):
            raise ValueError("context entry is not [title, [sentences]]")
        paragraphs.append((entry[0], " ".join(s.strip() for s in entry[1] if s.strip())))
    return paragraphs


# ---------------------------------------------------------------- tasks


@dataclass
class QATask(FileTask):
    """Shared extraction (`extract_qa_answer`) and scoring (F1 over `item.meta['aliases']` too)."""

    roles: ClassVar[tuple[str, ...]] = QA_ROLES
    decision: ClassVar[DecisionKind] = "final_refer"

    def extract(self, output: str) -> str:
        return extract_qa_answer(output)

    async def score(self, item: Item, output: str) -> Score:
        return qa_score(self.extract(output), [item.answer, *item.meta.get("aliases", ())])


@dataclass
class HotpotQA(QATask):
    """Closed-book HotpotQA: ReAct's `hotpot_dev_v1_simplified.json`, a JSON list of
    `{question, answer, type}` (the 7,405 dev questions without their paragraphs).

    The split is "dev"; "test" is accepted as an alias because HotpotQA's test answers are
    hidden, so published results (ReAct, Optima) report dev, and `Task.items()` defaults to
    "test". Ids always say "dev" so a run resumes whichever name started it.
    """

    name: ClassVar[str] = "hotpotqa"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {"dev": ("hotpotqa/hotpot_dev_v1_simplified.json",)}
    aliases: ClassVar[dict[str, str]] = {"test": "dev"}

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)

        def parse(number: int, r: dict[str, Any]) -> Item:
            question = _text(r, "question")
            return Item(
                f"{self.name}/{split}/{number}",
                f"{question}\n{ANSWER_FORMAT}",
                _text(r, "answer"),
                {"type": r.get("type", ""), "question": question},
            )

        yield from self.records(split, parse)


def _context_prompt(question: str, paragraphs: Sequence[tuple[str, str]]) -> str:
    body = "\n".join(f"[{title}] {text}" for title, text in paragraphs)
    return f"Answer the question using these paragraphs.\n\n{body}\n\nQuestion: {question}\n{ANSWER_FORMAT}"


def split_paragraphs(paragraphs: Sequence[tuple[str, str]], supporting: Iterable[str], agents: int) -> list[list[str]]:
    """Deal paragraphs round-robin over agents, supporting ones first, so that for a two-hop
    question with two agents each agent holds one gold paragraph (Optima's asymmetric setup)."""
    gold = set(supporting)
    ordered = [p for p in paragraphs if p[0] in gold] + [p for p in paragraphs if p[0] not in gold]
    private: list[list[str]] = [[] for _ in range(agents)]
    for i, (title, text) in enumerate(ordered):
        private[i % agents].append(f"[{title}] {text}")
    return private


@dataclass
class _ContextQA(QATask):
    """HotpotQA-format records with paragraphs: `{_id, question, answer, context: [[title,
    [sentences]]], supporting_facts: [[title, sentence index]], type, ...}`.

    `private_agents` = 0 puts every paragraph in the question. With n ≥ 2 the question carries
    no paragraphs and `Item.private` deals them to n agents (`split_paragraphs`), the
    information-asymmetric setting Optima trains on.
    """

    private_agents: int = 0

    def __post_init__(self) -> None:
        if self.private_agents == 1 or self.private_agents < 0:
            raise ConfigError(
                f"private_agents={self.private_agents} for {self.name}: use 0 (paragraphs in the "
                "question) or 2 or more (paragraphs dealt to that many agents)"
            )

    def _meta(self, r: dict[str, Any]) -> dict[str, Any]:
        return {"type": r.get("type", "")}

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)

        def parse(_: int, r: dict[str, Any]) -> Item:
            question, answer, paragraphs = _text(r, "question"), _text(r, "answer"), _paragraphs(r)
            supporting = [str(fact[0]) for fact in r.get("supporting_facts", []) if isinstance(fact, list) and fact]
            meta = {"question": question, "supporting_facts": r.get("supporting_facts", []), **self._meta(r)}
            private: list[list[str]] = []
            if self.private_agents:
                private = split_paragraphs(paragraphs, supporting, self.private_agents)
                prompt = f"{question}\n{ANSWER_FORMAT}"
            else:
                prompt = _context_prompt(question, paragraphs)
            return Item(f"{self.name}/{split}/{_text(r, '_id')}", prompt, answer, meta, tuple(map(tuple, private)))

        yield from self.records(split, parse)


@dataclass
class HotpotQAContext(_ContextQA):
    """HotpotQA with its paragraphs (Yang et al. 2018), the official files unchanged:
    `hotpot_dev_distractor_v1.json` (2 gold + 8 distractor paragraphs per question),
    `hotpot_dev_fullwiki_v1.json`, `hotpot_train_v1.1.json`; each a JSON list of
    `{_id, question, answer, supporting_facts, context, type: bridge|comparison, level}`.
    The official test files have no answers, so "test" is an alias of "dev" (distractor).
    """

    name: ClassVar[str] = "hotpotqa-context"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {
        "dev": ("hotpotqa-context/hotpot_dev_distractor_v1.json", "hotpotqa/hotpot_dev_distractor_v1.json"),
        "dev-fullwiki": ("hotpotqa-context/hotpot_dev_fullwiki_v1.json", "hotpotqa/hotpot_dev_fullwiki_v1.json"),
        "train": ("hotpotqa-context/hotpot_train_v1.1.json", "hotpotqa/hotpot_train_v1.1.json"),
    }
    aliases: ClassVar[dict[str, str]] = {"test": "dev"}

    def _meta(self, r: dict[str, Any]) -> dict[str, Any]:
        return {"type": r.get("type", ""), "level": r.get("level", "")}


@dataclass
class TwoWikiMultiHopQA(_ContextQA):
    """2WikiMultihopQA (Ho et al. 2020), the published `train.json` / `dev.json`: a JSON list
    in HotpotQA's format plus `evidences: [[subject, relation, object]]` and `type`:
    comparison | inference | compositional | bridge_comparison. The published `test.json` has
    no answers, so "test" is an alias of "dev".
    """

    name: ClassVar[str] = "2wikimultihopqa"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {
        "dev": ("2wikimultihopqa/dev.json", "2wikimultihopqa/data/dev.json"),
        "train": ("2wikimultihopqa/train.json", "2wikimultihopqa/data/train.json"),
    }
    aliases: ClassVar[dict[str, str]] = {"test": "dev"}

    def _meta(self, r: dict[str, Any]) -> dict[str, Any]:
        return {"type": r.get("type", ""), "evidences": r.get("evidences", [])}


@dataclass
class TriviaQA(QATask):
    """TriviaQA (Joshi et al. 2017), closed-book, from the published JSON:
    `{"Data": [{"Question", "QuestionId", "QuestionSource", "Answer": {"Value", "Aliases",
    "NormalizedAliases", "NormalizedValue", "MatchedWikiEntityName", "Type"}, "EntityPages",
    "SearchResults"}], "Domain", "Split", "Version", "VerifiedEval"}` — either the unfiltered
    release (`triviaqa-unfiltered/unfiltered-web-dev.json`) or the rc release (`qa/web-dev.json`,
    `qa/wikipedia-dev.json`, `qa/verified-*-dev.json`). Scored against every alias. The test
    files ship without answers, so "test" is an alias of "dev". Evidence documents are not read.
    """

    name: ClassVar[str] = "triviaqa"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {
        "dev": tuple(
            f"triviaqa/{p}"
            for p in (
                "unfiltered-web-dev.json",
                "triviaqa-unfiltered/unfiltered-web-dev.json",
                "web-dev.json",
                "qa/web-dev.json",
                "wikipedia-dev.json",
                "qa/wikipedia-dev.json",
            )
        ),
        "verified": tuple(
            f"triviaqa/{p}"
            for p in (
                "verified-web-dev.json",
                "qa/verified-web-dev.json",
                "verified-wikipedia-dev.json",
                "qa/verified-wikipedia-dev.json",
            )
        ),
        "train": tuple(
            f"triviaqa/{p}"
            for p in (
                "unfiltered-web-train.json",
                "triviaqa-unfiltered/unfiltered-web-train.json",
                "web-train.json",
                "qa/web-train.json",
                "wikipedia-train.json",
                "qa/wikipedia-train.json",
            )
        ),
    }
    aliases: ClassVar[dict[str, str]] = {"test": "dev"}
    container_key: ClassVar[str | None] = "Data"

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)

        def parse(_: int, r: dict[str, Any]) -> Item:
            question, answer = _text(r, "Question"), r["Answer"]
            if not isinstance(answer, dict):
                raise ValueError("Answer is not an object")
            value = _text(answer, "Value")
            names = [*answer.get("Aliases", []), *answer.get("NormalizedAliases", [])]
            aliases = list(dict.fromkeys(a for a in names if isinstance(a, str) and a.strip() and a != value))
            return Item(
                f"{self.name}/{split}/{_text(r, 'QuestionId')}",
                f"{question}\n{ANSWER_FORMAT}",
                value,
                {"aliases": aliases, "question": question},
            )

        yield from self.records(split, parse)


# ---------------------------------------------------------------- multiple choice (ARC)

LETTERS = "ABCDEFGH"


@dataclass
class ARCChallenge(FileTask):
    """ARC-Challenge (Clark et al. 2018), AI2's published JSON-lines files unchanged
    (`ARC-Challenge-Test.jsonl`, `-Dev`, `-Train`, as in ARC-V1-Feb2018-2/ARC-Challenge/):
    `{"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}`.

    A few questions label their options 1-4 instead of A-D; those are relabelled A, B, C… by
    position (answerKey too) so prompts, roles and extraction only deal in letters.
    `meta["labels"]` keeps the original labels. Score: exact match of the letter.
    """

    name: ClassVar[str] = "arc-challenge"
    roles: ClassVar[tuple[str, ...]] = ("knowledgeable_expert", "knowledgeable_expert", "critic")
    decision: ClassVar[DecisionKind] = "final_refer"
    splits: ClassVar[dict[str, tuple[str, ...]]] = {
        split: tuple(
            f"arc-challenge/{d}ARC-Challenge-{split.title()}.jsonl"
            for d in ("", "ARC-Challenge/", "ARC-V1-Feb2018-2/ARC-Challenge/")
        )
        for split in ("test", "dev", "train")
    }

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)

        def parse(_: int, r: dict[str, Any]) -> Item:
            question = r["question"]
            if not isinstance(question, dict) or not isinstance(question.get("choices"), list):
                raise ValueError("question is not {stem, choices}")
            stem, choices = _text(question, "stem"), question["choices"]
            originals = [str(c["label"]).strip() for c in choices]
            texts = [_text(c, "text") for c in choices]
            key = str(r["answerKey"]).strip()
            if not 2 <= len(choices) <= len(LETTERS) or key not in originals or len(set(originals)) != len(originals):
                raise ValueError(f"answerKey {key!r} is not one of {len(choices)} distinct option labels")
            letters = list(LETTERS[: len(choices)])
            options = "\n".join(f"{letter}) {text}" for letter, text in zip(letters, texts))
            prompt = f"{stem}\n{options}\nAnswer with the letter of the correct option."
            return Item(
                f"{self.name}/{split}/{_text(r, 'id')}",
                prompt,
                letters[originals.index(key)],
                {"choices": texts, "labels": originals},
            )

        yield from self.records(split, parse)

    def extract(self, output: str) -> str:
        return extract_choice(output, letters=LETTERS)

    async def score(self, item: Item, output: str) -> Score:
        choices = item.meta.get("choices", [])
        extracted = extract_choice(output, choices, LETTERS[: len(choices)] if choices else LETTERS)
        em = float(extracted == item.answer)
        return Score(em, extracted, {"em": em})
