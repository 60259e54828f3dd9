"""Multiple-choice tasks: MMLU (57 subjects, four options) and AQuA-RAT (five options).

Both share the prompt layout and the letter extraction: teams of small models answer in many
shapes ("B", "(B)", "**B**", "The answer is (C)", "I choose option b", or the option's text
without its letter), and a scorer that only reads the first character would grade the
formatting, not the knowledge.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from agentnet.errors import ConfigError, UnknownNameError
from agentnet.graph import DecisionKind
from agentnet.task_types import Item, Score
from agentnet.tasks.base import DataNotFoundError, FileTask, find_data
from agentnet.tasks.records import read_csv, require
from agentnet.tasks.math_word import MATH_ROLES

LETTERS = "ABCDE"

MMLU_ROLES = (
    "knowledgeable_expert",
    "critic",
    "mathematician",
    "psychologist",
    "historian",
    "doctor",
    "lawyer",
    "economist",
    "programmer",
)

# The 57 subjects of Hendrycks et al. (2021), as named in the published CSV files.
MMLU_SUBJECTS = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)


class UnknownSubjectError(UnknownNameError, ConfigError):
    """An MMLU subject that does not exist; the message lists the 57 that do."""


# ---------------------------------------------------------------------------------------------
# Prompt


def format_choice_question(question: str, choices: Sequence[str]) -> str:
    """The question, one "A) …" line per option, and the instruction the roles also give."""
    letters = LETTERS[: len(choices)]
    lines = [question.strip(), ""]
    lines += [f"{letter}) {choice.strip()}" for letter, choice in zip(letters, choices)]
    listed = ", ".join(letters[:-1]) + f" or {letters[-1]}"
    lines += ["", f"Begin your answer with the letter of the correct option ({listed}), then explain."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Letter extraction
#
# Candidates are read in tiers, most explicit first, so "B is tempting, but the answer is C"
# gives C. Letters are matched as [A-Za-z] and then checked against the item's letters, so a
# stray "E" in a four-option question is not an answer. A lowercase letter only counts as a
# label ("option b", "(b)", "b.", "b" at the end): "the answer is a bit…" is English, not "A".

_LETTER = r"([A-Za-z])(?![A-Za-z0-9])"
# Runs are bounded ({0,10}) so a reply with thousands of spaces or asterisks cannot make the
# overlapping classes backtrack quadratically.
_OPEN = r"[\s(\[{*_\"'`]{0,10}"  # "(C)", "[C]", "**C**", "'C'"
_OPTION_WORD = r"(?:option|choice|letter)"
_EXPLICIT = re.compile(
    r"\b(?:answer|ans|option|choice)\b(?:\*\*|__)?"
    r"(?:\s+(?:is|was|would\s+be|should\s+be|must\s+be|will\s+be)\b|\s*[:=\-–—])"
    r"(?:\s+(?:therefore|thus|clearly|probably|definitely)\b)?"
    r"[\s:*_=,]{0,10}(?:" + _OPTION_WORD + r"\b)?" + _OPEN + _LETTER,
    re.IGNORECASE,
)
_CLOSING = r"[)\]}*_\"'`.!]{0,10}[ \t]*$"  # what may follow a letter that ends its line
_LINE_END = re.compile(  # "… Answer A", "ANS:D" closing a line; "Option B." as a whole line
    r"(?:\b(?:answer|ans)|^[ \t*_#>]{0,10}(?:option|choice))\b[ \t:=.\-–—]{0,10}" + _OPEN + _LETTER + _CLOSING,
    re.IGNORECASE | re.MULTILINE,
)
_BOXED = re.compile(r"\\boxed\{\s*\(?\s*" + _LETTER + r"\s*\)?\s*\}")
_DECISIONS = (
    re.compile(  # "I choose option b", "I'd go with (C)"
        r"\b(?:choose|chose|choosing|select|selected|pick|picked|go\s+with|going\s+with)"
        r"\s(?:(?:the\s+)?" + _OPTION_WORD + r"\b)?" + _OPEN + _LETTER,
        re.IGNORECASE,
    ),
    re.compile(  # "the correct option B"
        r"\b(?:correct|best|right)\s+" + _OPTION_WORD + _OPEN + _LETTER, re.IGNORECASE
    ),
    re.compile(  # "B is correct", "option (c) is the right one"
        r"(?:\b"
        + _OPTION_WORD
        + r"\s?)?(?<![A-Za-z0-9])[(\[*_\"'`]{0,4}"
        + _LETTER
        + r"[)\]*]{0,4}\s+is\s+(?:the\s+)?(?:correct|right|best|answer)\b",
        re.IGNORECASE,
    ),
)
_LEADING = re.compile(r"^[\s(\[{*_\"'`#>]{0,10}" + _LETTER + r"(?P<rest>[^\n]{0,12})")
_MARKED = re.compile(r"\(([A-Za-z])\)|\*\*([A-Za-z])\*\*|\[([A-Za-z])\]|(?<![A-Za-z0-9(])([A-Z])\)")
_LAST_LINE = re.compile(r"\n[ \t(\[{*_\"'`#>]{0,10}" + _LETTER + _CLOSING)
_LIST_ITEM = re.compile(r"^[ \t*_]{0,10}\(?([A-Z])[).:]", re.MULTILINE)
# "A" is also the English article: followed by a word, it only counts when that word carries
# on a choice ("A is …", "A because …"), not when it starts a noun phrase ("A good question").
_ARTICLE = re.compile(r"[ \t]+(?!(?:is|because|since|as|and|or|with|was|seems|looks|fits)\b)[A-Za-z]")


def _accept(text: str, match: re.Match[str], group: int, letters: str) -> str:
    """The match's letter if it is one of `letters` and not the article "A".

    A lowercase letter also needs context that makes it a label: an option word before it
    ("option b"), a bracket ("(b)"), or punctuation / the line's end after it.
    """
    letter = match.group(group)
    if letter.upper() not in letters:
        return ""
    if letter == "A" and _ARTICLE.match(text, match.end(group)):
        return ""  # "the answer is A DNA sequence…": the article, not the option
    if letter.islower():
        before = text[match.start() : match.start(group)]
        after = text[match.end(group) : match.end(group) + 2]
        labelled = re.search(_OPTION_WORD + r"\W*$", before, re.IGNORECASE) or before.endswith("(")
        if not labelled and after and not re.match(r"[).:,;\]*'\"!?\n]|\s*$", after):
            return ""
    return letter.upper()


def _last(patterns: tuple[re.Pattern[str], ...], text: str, letters: str) -> str:
    """The accepted letter that ends last in the text over all `patterns`, or ""."""
    found = [
        (match.end(1), letter)
        for pattern in patterns
        for match in pattern.finditer(text)
        if (letter := _accept(text, match, 1, letters))
    ]
    return max(found)[1] if found else ""


def _leading(text: str, letters: str) -> str:
    """A reply that starts with its letter: "B", "(B) …", "B. Because …", "C because …"."""
    if len(set(_LIST_ITEM.findall(text)) & set(letters)) >= 3:
        return ""  # the reply lists the options ("A) …\nB) …\nC) …"): its first line is no choice
    match = _LEADING.match(text)
    if match is None or not (letter := _accept(text, match, 1, letters)):
        return ""
    return letter


def _marked(text: str, letters: str) -> str:
    """The letter set off as "(C)", "**C**", "[C]" or "C)", when exactly one such letter appears.

    An output that echoes all the options marks every letter; that names no answer.
    """
    found = {next(g for g in m.groups() if g).upper() for m in _MARKED.finditer(text)}
    found &= set(letters)
    return found.pop() if len(found) == 1 else ""


def _squash(text: str) -> str:
    return " ".join(re.sub(r"[*_`$]", "", text).lower().split()).strip(" .")


def _by_text(text: str, choices: Sequence[str], letters: str, *, earliest: bool = False) -> str:
    """The option whose text the reply quotes (as whole words), or "".

    An option quoted only inside a longer quoted option ("New York" in "New York City") does
    not count. Of several options, none is chosen ("Paris or Lyon") unless `earliest`, used
    on the words right after "the answer is", where the first one quoted is the answer
    ("the answer is 4, since 2 + 2 = 4"). Two options with the same text name no answer.
    """
    haystack = _squash(text)
    hits: list[tuple[int, str, str]] = []
    for letter, choice in zip(letters, choices):
        needle = _squash(choice)
        found = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) if needle else None
        if found:
            hits.append((found.start(), letter, needle))
    needles = {needle for _, _, needle in hits}
    hits = [h for h in hits if not any(h[2] != other and h[2] in other for other in needles)]
    if earliest and hits:
        first = min(hits)
        hits = [h for h in hits if h[2] == first[2]]
    return hits[0][1] if len(hits) == 1 else ""


_ANSWER_TAIL = re.compile(r"answer\s*(?:is|:)\s*([^\n]+)", re.IGNORECASE)


_TAGGED = re.compile(r"<A>(.*?)</A>", re.IGNORECASE | re.DOTALL)


def extract_choice(output: str, choices: Sequence[str] = (), letters: str | None = None) -> str:
    """The option letter a reply gives, upper case, or "" when it names none.

    Tiers, first hit wins: an explicit "answer is X" / "Answer: X" / "the correct option is
    X" / "\\boxed{X}" / a line ending "Answer X" (the last in the reply); a decision ("I
    choose option b", "C is correct", "D is the answer"; the last); a reply that begins with
    its letter; a last line that is only a letter; a single letter marked as "(C)" or
    "**C**"; the text of exactly one option, after "answer is" first, then anywhere.
    """
    letters = (letters or LETTERS[: len(choices)] or LETTERS[:4]).upper()
    text = output.strip()
    if not text:
        return ""
    tagged = _TAGGED.findall(text)  # Optima-style `<A>answer</A>`: the tag is the answer
    if tagged and tagged[-1].strip() and tagged[-1].strip() != text:
        return extract_choice(tagged[-1].strip(), choices, letters)
    for find in (
        lambda: _last((_BOXED, _EXPLICIT, _LINE_END), text, letters),
        lambda: _last(_DECISIONS, text, letters),
        lambda: _leading(text, letters),
        lambda: _last((_LAST_LINE,), text, letters),
        lambda: _marked(text, letters),
    ):
        if letter := find():
            return letter
    if choices:
        tails = _ANSWER_TAIL.findall(text)
        if tails and (letter := _by_text(tails[-1], choices, letters, earliest=True)):
            return letter
        return _by_text(text, choices, letters)
    return ""


# ---------------------------------------------------------------------------------------------
# Tasks


@dataclass
class ChoiceTask(FileTask):
    """Shared extraction and scoring: the letter a reply gives must equal the gold letter."""

    roles: ClassVar[tuple[str, ...]] = ()
    decision: ClassVar[DecisionKind] = "final_refer"
    letters: ClassVar[str] = LETTERS[:4]

    def extract(self, output: str) -> str:
        """Letters only: without the item this cannot match an option's text (score can)."""
        return extract_choice(output, letters=self.letters)

    async def score(self, item: Item, output: str) -> Score:
        choices = item.meta.get("choices", ())
        extracted = extract_choice(output, choices, self.letters[: len(choices)] or self.letters)
        return Score(1.0 if extracted == item.answer else 0.0, extracted)


@dataclass
class MMLU(ChoiceTask):
    """MMLU from the published CSVs, every subject by default or the ones in `subjects`.

    The id's last part is the record's position in its file (1-based, malformed records
    included), so ids stay put when a broken row is skipped.
    """

    subjects: tuple[str, ...] | None = None
    name: ClassVar[str] = "mmlu"
    roles: ClassVar[tuple[str, ...]] = MMLU_ROLES
    letters: ClassVar[str] = LETTERS[:4]
    splits: ClassVar[dict[str, tuple[str, ...]]] = {s: (f"mmlu/{s}",) for s in ("test", "val", "dev")}

    def __post_init__(self) -> None:
        if self.subjects is None:
            return
        subjects = (self.subjects,) if isinstance(self.subjects, str) else tuple(self.subjects)
        if not subjects:
            raise ConfigError("mmlu subjects is empty; pass None for every subject or name at least one")
        for subject in subjects:
            if subject not in MMLU_SUBJECTS:
                raise UnknownSubjectError("MMLU subject", subject, list(MMLU_SUBJECTS))
        self.subjects = tuple(sorted(set(subjects)))

    def _files(self, split: str) -> list[tuple[str, Path]]:
        """(subject, CSV path) in subject order; every named subject's file must exist."""
        if self.subjects is not None:
            return [(s, find_data(self.config, self.name, f"mmlu/{split}/{s}_{split}.csv")) for s in self.subjects]
        folder = self.data_path(split)
        suffix = f"_{split}.csv"
        files = sorted((p.name[: -len(suffix)], p) for p in folder.glob(f"*{suffix}") if p.is_file())
        if not files:
            raise DataNotFoundError(
                f"no mmlu data: {folder} holds no <subject>{suffix} files; point --data-dir at a "
                f"directory laid out as DIR/mmlu/{split}/<subject>{suffix}"
            )
        return files

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)
        for subject, path in self._files(split):
            for row, (question, choices, answer) in read_csv(path, self.config, _mmlu_record):
                yield Item(
                    f"{self.name}/{split}/{subject}/{row}",
                    format_choice_question(question, choices),
                    answer,
                    {"subject": subject, "choices": choices},
                )


def _mmlu_record(position: int, fields: list[str]) -> tuple[int, tuple[str, list[str], str]]:
    """(position, (question, [A, B, C, D], letter)) for one headerless MMLU CSV record, or a
    ValueError: a record without six fields, an empty question or an answer outside A–D."""
    if len(fields) != 6:
        raise ValueError(f"{len(fields)} fields, expected 6 (question, A, B, C, D, answer)")
    if not fields[0].strip():
        raise ValueError("empty question")
    if fields[5].strip().upper() not in ("A", "B", "C", "D"):
        raise ValueError(f"answer {fields[5]!r} is not one of A, B, C, D")
    return position, (fields[0].strip(), [c.strip() for c in fields[1:5]], fields[5].strip().upper())


_OPTION = re.compile(r"^\s*([A-Ea-e])\s*\)\s*(.*)$", re.DOTALL)


@dataclass
class AQuA(ChoiceTask):
    """AQuA-RAT algebra word problems with five lettered options; the rationale goes in meta."""

    name: ClassVar[str] = "aqua"
    roles: ClassVar[tuple[str, ...]] = MATH_ROLES
    letters: ClassVar[str] = LETTERS
    splits: ClassVar[dict[str, tuple[str, ...]]] = {s: (f"aqua/{s}.json",) for s in ("test", "dev", "train")}

    def items(self, split: str = "test") -> Iterator[Item]:
        split = self.canonical_split(split)

        def parse(number: int, record: dict[str, Any]) -> Item:
            r = require(record, "question", "options", "correct")
            choices, answer = _parse_aqua(r)
            question = format_choice_question(r["question"], choices)
            meta = {"choices": choices, "rationale": r.get("rationale", "")}
            return Item(f"{self.name}/{split}/{number}", question, answer, meta)

        yield from self.records(split, parse)


def _parse_aqua(record: dict[str, Any]) -> tuple[list[str], str]:
    """(option texts, gold letter), or a ValueError saying what is wrong with the record."""
    options, correct = record["options"], record["correct"]
    if not isinstance(record["question"], str) or not record["question"].strip():
        raise ValueError("question must be a non-empty string")
    if not isinstance(options, list) or len(options) != len(LETTERS):
        raise ValueError(f"options must be a list of {len(LETTERS)} strings")
    choices = []
    for expected, option in zip(LETTERS, options):
        match = _OPTION.match(option) if isinstance(option, str) else None
        if match is None or match.group(1).upper() != expected:
            raise ValueError(f"option {option!r} should start with '{expected})'")
        choices.append(match.group(2).strip())
    if not isinstance(correct, str) or correct.strip().upper() not in tuple(LETTERS):
        raise ValueError(f"correct {correct!r} is not one of {', '.join(LETTERS)}")
    return choices, correct.strip().upper()
