"""Information-asymmetric puzzles (Optima-style): the facts are split so no agent can answer alone.

Each item is generated from (TaskConfig.seed, split, index) alone, so any machine regenerates the
same items without data files. Puzzles are built from structured facts: every fact defines one
(entity, attribute) value, either as a constant ("Cleo was born in Lyon") or from another
value ("Ann lives in the city where Bea works"). `solve` derives an answer from any set of
facts, which is how the tests check the property that matters: all the needed facts together
answer the question, every one of them is needed, and no single agent's facts suffice.

Families:
  chain   - a chain of "X <relation> the city where Y <relation>" ending at a named city.
  boxes   - box counts defined relative to each other ("twice as many as", "4 more than").
  compare - who is oldest / has the most books; each agent knows some of the values.
Each agent also gets a distractor fact, so the lone city or number in a private list is not the
answer by elimination.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from agentnet.errors import ConfigError
from agentnet.graph import DecisionKind
from agentnet.task_types import Item, Score
from agentnet.tasks.base import TaskConfig, check_split
from agentnet.tasks.qa import extract_qa_answer, qa_score

Key = tuple[str, str]  # (entity, attribute)
Op = Literal["same", "times", "plus", "minus"]
FAMILIES = ("chain", "boxes", "compare")
MAX_AGENTS = 8  # the name, city and colour pools below cover chains of MAX_AGENTS + 1 facts plus distractors
ANSWER_FORMAT = "End your reply with the final answer alone between <A> and </A>."

NAMES = (
    "Ann",
    "Bea",
    "Cleo",
    "Dan",
    "Eve",
    "Finn",
    "Gina",
    "Hugo",
    "Ida",
    "Jon",
    "Kai",
    "Lena",
    "Max",
    "Nora",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tess",
    "Uma",
    "Vik",
    "Wes",
    "Xena",
    "Yuri",
    "Zoe",
    "Alma",
    "Bert",
    "Cora",
    "Dirk",
    "Elsa",
    "Femi",
    "Gus",
    "Hana",
    "Ivo",
    "Jade",
)
CITIES = (
    "Lyon",
    "Oslo",
    "Porto",
    "Kyoto",
    "Quito",
    "Dakar",
    "Perth",
    "Tunis",
    "Lima",
    "Riga",
    "Turin",
    "Graz",
    "Cork",
    "Basel",
    "Leeds",
    "Malmo",
    "Ghent",
    "Split",
    "Bergen",
    "Davos",
    "Nice",
    "Osaka",
    "Hanoi",
    "Accra",
    "Cusco",
    "Izmir",
    "Minsk",
    "Sofia",
)
COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "white",
    "black",
    "orange",
    "purple",
    "pink",
    "brown",
    "grey",
    "silver",
    "golden",
    "violet",
    "teal",
    "beige",
    "navy",
    "crimson",
    "ivory",
    "olive",
    "maroon",
    "turquoise",
    "amber",
    "lilac",
)
# relation -> (predicate, clause after "the city where X", question)
RELATIONS = {
    "lives": ("lives in", "lives", "In which city does {} live?"),
    "works": ("works in", "works", "In which city does {} work?"),
    "born": ("was born in", "was born", "In which city was {} born?"),
    "studied": ("studied in", "studied", "In which city did {} study?"),
    "married": ("got married in", "got married", "In which city did {} get married?"),
}


@dataclass(frozen=True)
class Fact:
    """One (entity, attribute) value: `value` itself, or `op(k)` applied to `source`'s value."""

    key: Key
    text: str
    value: str | int | None = None
    source: Key | None = None
    op: Op = "same"
    k: int = 0


@dataclass(frozen=True)
class Query:
    """`value` asks for keys[0]'s value; `max`/`min` ask which entity of keys has the extreme."""

    kind: Literal["value", "max", "min"]
    keys: tuple[Key, ...]
    text: str


@dataclass(frozen=True)
class Puzzle:
    family: str
    query: Query
    answer: str
    needed: tuple[Fact, ...]  # each in exactly one agent's list
    private: tuple[tuple[Fact, ...], ...]  # per agent: its needed facts and a distractor, shuffled


def _resolve(key: Key, table: dict[Key, Fact], seen: frozenset[Key] = frozenset()) -> str | int | None:
    fact = table.get(key)
    if fact is None or key in seen:
        return None
    if fact.source is None:
        return fact.value
    base = _resolve(fact.source, table, seen | {key})
    if base is None or fact.op == "same":
        return base
    if not isinstance(base, int):
        return None
    return {"times": base * fact.k, "plus": base + fact.k, "minus": base - fact.k}[fact.op]


def solve(query: Query, facts: Iterable[Fact]) -> str | None:
    """The answer the facts determine, or None when they do not (a value is unknown)."""
    table = {f.key: f for f in facts}
    values = [_resolve(key, table) for key in query.keys]
    if any(v is None for v in values):
        return None
    if query.kind == "value":
        return str(values[0])
    numbers = [v for v in values if isinstance(v, int)]
    if len(numbers) != len(values):
        return None
    best = max(numbers) if query.kind == "max" else min(numbers)
    return query.keys[numbers.index(best)][0]


def _deal(rng: random.Random, needed: Sequence[Fact], agents: int) -> list[list[Fact]]:
    """Each needed fact to one agent, every agent at least one (so none holds them all)."""
    owners = list(range(agents)) + [rng.randrange(agents) for _ in range(len(needed) - agents)]
    rng.shuffle(owners)
    hands: list[list[Fact]] = [[] for _ in range(agents)]
    for fact, owner in zip(needed, owners):
        hands[owner].append(fact)
    return hands


def _chain(rng: random.Random, agents: int) -> tuple[Query, str, list[Fact], list[Fact]]:
    length = agents + rng.randint(0, 1)
    people = rng.sample(NAMES, length + agents)
    chain, others = people[:length], people[length:]
    relations = [rng.choice(list(RELATIONS)) for _ in chain]
    cities = rng.sample(CITIES, 1 + agents)
    answer, decoys = cities[0], cities[1:]
    needed = []
    for i, (person, relation) in enumerate(zip(chain, relations)):
        predicate = RELATIONS[relation][0]
        if i + 1 < length:
            nxt, nxt_rel = chain[i + 1], relations[i + 1]
            text = f"{person} {predicate} the city where {nxt} {RELATIONS[nxt_rel][1]}."
            needed.append(Fact((person, relation), text, source=(nxt, nxt_rel)))
        else:
            needed.append(Fact((person, relation), f"{person} {predicate} {answer}.", value=answer))
    distractors = []
    for i, city in enumerate(decoys):
        if i % 2 == 0:  # another attribute of someone in the chain: a trap for sloppy joins
            at = rng.randrange(length)
            person = chain[at]
            relation = rng.choice([r for r in RELATIONS if r != relations[at]])
        else:
            person, relation = others[i], rng.choice(list(RELATIONS))
        distractors.append(Fact((person, relation), f"{person} {RELATIONS[relation][0]} {city}.", value=city))
    query = Query("value", (needed[0].key,), RELATIONS[relations[0]][2].format(chain[0]))
    return query, answer, needed, distractors


def _boxes(rng: random.Random, agents: int) -> tuple[Query, str, list[Fact], list[Fact]]:
    length = agents + rng.randint(0, 1)
    colours = rng.sample(COLOURS, length + agents)
    chain, others = colours[:length], colours[length:]
    value = rng.randint(2, 9)
    needed = [Fact((chain[0], "coins"), f"The {chain[0]} box holds {value} coins.", value=value)]
    for prev, colour in zip(chain, chain[1:]):
        op: Op = rng.choice(("times", "plus", "minus") if value > 3 else ("times", "plus"))
        if op == "times" and value <= 40:
            k = rng.choice((2, 3))
            how = f"{'twice' if k == 2 else 'three times'} as many coins as"
        elif op == "minus":
            k = rng.randint(1, min(9, value - 1))
            how = f"{k} fewer {'coin' if k == 1 else 'coins'} than"
        else:
            op, k = "plus", rng.randint(1, 9)
            how = f"{k} more {'coin' if k == 1 else 'coins'} than"
        value = {"times": value * k, "plus": value + k, "minus": value - k}[op]
        needed.append(
            Fact((colour, "coins"), f"The {colour} box holds {how} the {prev} box.", source=(prev, "coins"), op=op, k=k)
        )
    answer = str(value)
    distractors = []
    for i, colour in enumerate(others):
        decoy = rng.randint(2, 60)
        if i % 2 == 1:  # relative to a chain box, but off the path to the question
            source, k = rng.choice(chain), rng.randint(1, 9)
            text = f"The {colour} box holds {k} more coins than the {source} box."
            distractors.append(Fact((colour, "coins"), text, source=(source, "coins"), op="plus", k=k))
        else:
            distractors.append(Fact((colour, "coins"), f"The {colour} box holds {decoy} coins.", value=decoy))
    query = Query("value", ((chain[-1], "coins"),), f"How many coins does the {chain[-1]} box hold?")
    return query, answer, needed, distractors


ATTRIBUTES = {  # attribute -> (fact template, max question, min question, value range)
    "age": ("{} is {} years old.", "Who is the oldest of {}?", "Who is the youngest of {}?", (18, 90)),
    "books": ("{} owns {} books.", "Who owns the most books of {}?", "Who owns the fewest books of {}?", (3, 400)),
}


def _compare(rng: random.Random, agents: int) -> tuple[Query, str, list[Fact], list[Fact]]:
    count = agents + rng.randint(0, 1)
    people = rng.sample(NAMES, count + agents)
    asked, others = people[:count], people[count:]
    attribute = rng.choice(list(ATTRIBUTES))
    template, most, fewest, (low, high) = ATTRIBUTES[attribute]
    values = rng.sample(range(low, high + 1), count + agents)
    needed = [Fact((p, attribute), template.format(p, v), value=v) for p, v in zip(asked, values)]
    other_attribute = next(a for a in ATTRIBUTES if a != attribute)
    distractors = []
    for i, (person, v) in enumerate(zip(others, values[count:])):
        if i % 2 == 1:  # the other attribute of someone asked about
            person = rng.choice(asked)
            other_template, _, _, (lo, hi) = ATTRIBUTES[other_attribute]
            v = rng.randint(lo, hi)
            distractors.append(Fact((person, other_attribute), other_template.format(person, v), value=v))
        else:  # the same attribute of someone not asked about
            distractors.append(Fact((person, attribute), template.format(person, v), value=v))
    kind: Literal["max", "min"] = rng.choice(("max", "min"))
    listed = ", ".join(asked[:-1]) + f" and {asked[-1]}"
    query = Query(kind, tuple(f.key for f in needed), (most if kind == "max" else fewest).format(listed))
    answer = solve(query, needed)
    assert answer is not None
    return query, answer, needed, distractors


def _unique(distractors: list[Fact], needed: Sequence[Fact]) -> list[Fact]:
    """Distractors never redefine a needed key (which would make the puzzle ambiguous)."""
    taken = {f.key for f in needed}
    out = []
    for fact in distractors:
        if fact.key not in taken:
            taken.add(fact.key)
            out.append(fact)
    return out


_BUILDERS = {"chain": _chain, "boxes": _boxes, "compare": _compare}


def make_puzzle(seed: int, split: str, index: int, agents: int = 2) -> Puzzle:
    """The puzzle at `index` of `split`: families in turn, everything else from a generator
    seeded by the string (seed, split, index) — string seeds hash with SHA-512, so streams are
    independent across splits and stable across Python runs and PYTHONHASHSEED."""
    rng = random.Random(f"agentnet/asymmetric/{seed}/{split}/{index}/{agents}")
    family = FAMILIES[index % len(FAMILIES)]
    query, answer, needed, distractors = _BUILDERS[family](rng, agents)
    hands = _deal(rng, needed, agents)
    distractors = _unique(distractors, needed)
    for i, fact in enumerate(distractors):
        hands[i % agents].append(fact)
    for hand in hands:
        rng.shuffle(hand)
    return Puzzle(family, query, answer, tuple(needed), tuple(tuple(h) for h in hands))


def _agent_name(i: int) -> str:
    return ("Alice", "Bob")[i] if i < 2 else f"Agent {i + 1}"


@dataclass
class Asymmetric:
    """Generated puzzles whose facts are split over `agents` agents (`Item.private`).

    Item ids carry the seed and agent count ("asymmetric/test/s0-n2/17") so a resumed run never
    mixes puzzles generated under different settings. "train" and "test" use disjoint seed
    streams; `train_size`/`test_size` only cut them, so a shorter split is a prefix of a longer one.
    """

    config: TaskConfig = field(default_factory=TaskConfig)
    agents: int = 2
    train_size: int = 200
    test_size: int = 100
    name: ClassVar[str] = "asymmetric"
    decision: ClassVar[DecisionKind] = "last_agent"  # as in Optima: the conversation ends on the answer

    def __post_init__(self) -> None:
        if not 2 <= self.agents <= MAX_AGENTS:
            raise ConfigError(f"asymmetric agents={self.agents}: the facts must split over 2 to {MAX_AGENTS} agents")
        for split, size in (("train", self.train_size), ("test", self.test_size)):
            if size < 0:
                raise ConfigError(f"asymmetric {split}_size={size}: use 0 or more items")

    @property
    def roles(self) -> tuple[str, ...]:
        """alice, bob, then info_holder for any further agent; one role per private list."""
        return ("alice", "bob", *("info_holder",) * (self.agents - 2))

    def items(self, split: str = "test") -> Iterator[Item]:
        sizes = {"train": self.train_size, "test": self.test_size}
        for index in range(sizes[check_split(self.name, split, sizes)]):
            yield self.item(split, index)

    def item(self, split: str, index: int) -> Item:
        puzzle = make_puzzle(self.config.seed, split, index, self.agents)
        names = [_agent_name(i) for i in range(self.agents)]
        listed = ", ".join(names[:-1]) + f" and {names[-1]}"
        question = (
            f"{puzzle.query.text}\nThe facts needed are split between {listed}: each knows some of them "
            f"and none can answer alone.\n{ANSWER_FORMAT}"
        )
        meta = {
            "family": puzzle.family,
            "needed": [f.text for f in puzzle.needed],
            "agents": self.agents,
            "seed": self.config.seed,
        }
        private = tuple(tuple(f.text for f in hand) for hand in puzzle.private)
        return Item(
            f"{self.name}/{split}/s{self.config.seed}-n{self.agents}/{index}", question, puzzle.answer, meta, private
        )

    def extract(self, output: str) -> str:
        return extract_qa_answer(output)

    async def score(self, item: Item, output: str) -> Score:
        return qa_score(self.extract(output), [item.answer])
