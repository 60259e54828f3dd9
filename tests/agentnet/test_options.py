from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from agentnet.errors import ConfigError
from agentnet.options import Group, command


@dataclass(frozen=True)
class Inner:
    weight: float = field(default=0.5, metadata={"help": "A nested field."})


@dataclass(frozen=True)
class Outer:
    steps: int = field(default=3, metadata={"help": "Steps.", "flags": ("--steps", "-s")})
    seed: int = field(default=0, metadata={"help": "Seed."})
    names: tuple[str, ...] = field(default=("a",), metadata={"help": "A list."})
    mode: Literal["x", "y"] = field(default="x", metadata={"help": "A choice."})
    strict: bool = field(default=True, metadata={"help": "A switch.", "flags": ("--strict/--lenient",)})
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"steps={self.steps} must be at least 1")


@dataclass(frozen=True)
class Other:
    steps: int = field(default=9, metadata={"help": "Also steps."})


@dataclass(frozen=True)
class Seeded:
    seed: int = field(default=0, metadata={"help": "Seed."})


@dataclass(frozen=True)
class Clash:
    seed: str = field(default="", metadata={"help": "Not an int."})


def _app() -> tuple[typer.Typer, list]:
    app, seen = typer.Typer(), []

    @command(
        app,
        Console(),
        name="go",
        outer=Outer,
        other=Group(Other, prefix="other_", defaults={"steps": 7}),
        seeded=Seeded,
    )
    def go(word: Annotated[str, typer.Argument(help="A word.")], outer: Outer, other: Other, seeded: Seeded) -> None:
        seen.append((word, outer, other, seeded))

    @command(app, Console(), name="noop")
    def noop() -> None:
        pass

    return app, seen


def test_fields_become_options_and_configs_are_built_from_them() -> None:
    app, seen = _app()
    result = CliRunner().invoke(
        app,
        [
            "go",
            "hi",
            "-s",
            "5",
            "--names",
            "p, q",
            "--mode",
            "y",
            "--lenient",
            "--weight",
            "0.1",
            "--seed",
            "4",
            "--other-steps",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    word, outer, other, seeded = seen[0]
    assert word == "hi" and outer == Outer(steps=5, seed=4, names=("p", "q"), mode="y", strict=False, inner=Inner(0.1))
    assert other == Other(steps=8) and seeded == Seeded(4)  # one --seed for both groups; the prefix keeps steps apart


def test_defaults_help_and_validation_come_from_the_dataclass() -> None:
    app, seen = _app()
    assert CliRunner().invoke(app, ["go", "w"]).exit_code == 0 and seen[0][2] == Other(steps=7)
    shown = CliRunner().invoke(app, ["go", "--help"]).output
    assert "A nested field." in shown and "--other-steps" in shown and "x|y" in shown
    bad = CliRunner().invoke(app, ["go", "w", "--steps", "0"])
    assert bad.exit_code == 2 and "steps=0 must be at least 1" in bad.output


def test_two_groups_declaring_one_option_with_two_types_is_an_error() -> None:
    with pytest.raises(TypeError, match="option 'seed' is declared with two types"):

        @command(typer.Typer(), Console(), outer=Outer, clash=Clash)
        def bad(outer: Outer, clash: Clash) -> None:
            pass
