"""CLI options generated from config dataclasses (TRL's `HfArgumentParser` idea, for Typer).

A command declares parameters typed with config dataclasses; `config_options` replaces each
by one Typer option per field — name, type, default and help (`metadata={"help": …}`) taken
from the dataclass — and builds the dataclass from the parsed values before the command runs.
So a new config field appears in `--help` with no CLI edit, and its validation
(`__post_init__`) is the CLI's validation.

Field metadata read here: `help`; `flags` (e.g. `("--agents", "-n")`, or `("--a/--b",)` for a
switch); `choices`; `envvar`; `secret` (never printed by --print-config); `repeat` (a list option given once per value); `cli=False` to keep a field off the command line; `ge`, `gt`, `le`,
`lt`: the range of a number. Every number a command receives, its own parameters included, is
checked under its flag's name before the command runs (`agentnet.checks`: finite, in range, 64
bits), so `--timeout nan` is one line before any store, file or server exists. Types: bool,
int, float, str, Path, their `| None`, `Literal[…]` (choices), `tuple[str, ...]` (a
comma-separated list) and nested config dataclasses (flattened). Two groups with a field of the
same name and type share one option (e.g. one `--seed` for the team and the trainer); `Group`
adds a prefix, excludes fields or changes defaults per command.

Every command with configs also takes `--config FILE` (its settings from YAML, flags winning:
`agentnet.configfile`) and `--print-config` (its settings as such a file, without running it).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import typer
from rich.console import Console

from agentnet.checks import Kind, bounds, check_value, kind_of
from agentnet.configfile import Setting, dump, setting_for
from agentnet.configfile import load as load_config
from agentnet.errors import AgentNetError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Group:
    """How one config dataclass appears on one command."""

    cls: type
    prefix: str = ""  # added to every option's name: prefix="optimizer_" gives --optimizer-max-tokens
    exclude: tuple[str, ...] = ()  # fields left off (their dataclass defaults apply)
    defaults: dict[str, object] = field(default_factory=dict)  # this command's defaults
    panel: str | None = None  # the --help section its options are listed under
    helps: dict[str, str] = field(default_factory=dict)  # this command's help texts (e.g. listing a registry)


@dataclass(frozen=True)
class _Option:
    name: str  # the Python parameter name (prefix + field name)
    annotation: object
    default: object
    csv: bool  # tuple[str, ...]: parsed from a comma-separated string
    factory: bool  # the dataclass default comes from a factory: omit the value when None
    check: _Check | None = None  # how a number is checked (None: not a number)
    setting: Setting | None = None  # what a --config file may give it
    secret: bool = False  # left out of --print-config (e.g. an API key from the environment)


@dataclass(frozen=True)
class _Check:
    label: str  # the flag, as the error names it
    kind: Kind
    limits: tuple[tuple[str, float], ...] = ()

    def __call__(self, value: object) -> None:
        check_value(self.label, value, self.kind, True, **dict(self.limits))


def _number_check(label: str, tp: object, metadata: Any = None) -> _Check | None:
    kind, _ = kind_of(tp)
    if kind not in ("int", "float"):
        return None
    return _Check(label, kind, tuple(bounds(metadata or {}).items()))


def _unwrap_optional(tp: object) -> tuple[object, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _is_config(tp: object) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _option(cls: type, f: dataclasses.Field, tp: Any, group: Group) -> _Option:
    meta = f.metadata
    flags = meta.get("flags")  # explicit flags win over the (prefixed) generated name, and name the parameter
    name = flags[0].split("/")[0].lstrip("-").replace("-", "_") if flags else group.prefix + f.name
    base, optional = _unwrap_optional(tp)
    csv = get_origin(base) is tuple
    if csv and get_args(base) != (str, ...):
        raise TypeError(f"{cls.__name__}.{f.name}: only tuple[str, ...] fields become CLI lists")
    factory = f.default is MISSING and f.default_factory is not MISSING
    if f.name in group.defaults:
        default = group.defaults[f.name]
    elif f.default is not MISSING:
        default = f.default
    elif factory:
        default = None
    else:
        raise TypeError(f"{cls.__name__}.{f.name} has no default; exclude it or give the command a parameter")
    if csv:
        default = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else ""
    kwargs: dict[str, Any] = {"help": group.helps.get(f.name, meta.get("help", "")), "show_default": not factory}
    if group.panel:
        kwargs["rich_help_panel"] = group.panel
    choices = meta.get("choices") or (get_args(base) if get_origin(base) is Literal else None)
    if "envvar" in meta:
        kwargs["envvar"] = meta["envvar"]
    py_type: Any = str if csv else base
    if csv and meta.get("repeat"):  # given once per value (--endpoint A --endpoint B), commas also split
        py_type, default = list[str], None
    if choices:  # Typer's choices are str Enums; the command gets the plain value back
        make_enum: Any = enum.Enum
        py_type = make_enum(f"{name}_choices", {f"c{i}": str(c) for i, c in enumerate(choices)}, type=str)
        default = None if default is None else py_type(str(default))
    if optional or (factory and default is None):
        py_type = py_type | None
    decls = tuple(flags) if flags else ("--" + name.replace("_", "-"),)
    if py_type is bool and not flags:
        decls = (f"--{name.replace('_', '-')}/--no-{name.replace('_', '-')}",)
    check = None if choices else _number_check(decls[0].split("/")[0], base, meta)
    setting = setting_for(tp | None if factory else tp, tuple(str(c) for c in choices or ()), bounds(meta))
    option = Annotated[py_type, typer.Option(*decls, **kwargs)]
    return _Option(name, option, default, csv, factory, check, setting, bool(meta.get("secret")))


def _options(group: Group) -> list[tuple[_Option, tuple[str, ...]]]:
    """(option, path of field names into the nested config) for every exposed field."""
    out = []
    hints = typing.get_type_hints(group.cls)
    for f in dataclasses.fields(group.cls):
        if f.name in group.exclude or f.metadata.get("cli") is False or not f.init:
            continue
        tp = hints[f.name]
        if _is_config(tp):
            inner = dataclasses.replace(group, cls=tp)
            out += [(opt, (f.name, *path)) for opt, path in _options(inner)]
        else:
            out.append((_option(group.cls, f, tp, group), (f.name,)))
    return out


def _build(cls: type, values: dict[tuple[str, ...], object]) -> object:
    """The config from {field path: value}; nested configs built first."""
    kwargs: dict[str, object] = {}
    nested: dict[str, dict[tuple[str, ...], object]] = {}
    for path, value in values.items():
        if len(path) == 1:
            kwargs[path[0]] = value
        else:
            nested.setdefault(path[0], {})[path[1:]] = value
    hints = typing.get_type_hints(cls)
    for name, sub in nested.items():
        kwargs[name] = _build(hints[name], sub)
    return cls(**kwargs)


def config_options(**groups: type | Group) -> Callable[[F], F]:
    """Expand the command's parameters named in `groups` into one option per config field."""
    specs = {name: g if isinstance(g, Group) else Group(g) for name, g in groups.items()}

    def decorate(fn: F) -> F:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = inspect.signature(fn).parameters
        options: dict[str, _Option] = {}
        routes: dict[str, list[tuple[str, tuple[str, ...]]]] = {}  # option -> [(group, field path)]
        for gname, group in specs.items():
            if gname not in own:
                raise TypeError(f"{fn.__name__} has no parameter {gname!r} for {group.cls.__name__}")
            for opt, path in _options(group):
                seen = options.get(opt.name)
                if seen is not None and get_args(seen.annotation)[0] != get_args(opt.annotation)[0]:
                    raise TypeError(f"{fn.__name__}: option {opt.name!r} is declared with two types")
                if opt.name in own:
                    raise TypeError(f"{fn.__name__}: option {opt.name!r} clashes with a parameter")
                options.setdefault(opt.name, opt)
                routes.setdefault(opt.name, []).append((gname, path))
        params = [
            inspect.Parameter(p.name, p.kind, default=p.default, annotation=hints.get(p.name, p.annotation))
            for p in own.values()
            if p.name not in specs
        ]
        kw = inspect.Parameter.KEYWORD_ONLY
        params += [inspect.Parameter(o.name, kw, default=o.default, annotation=o.annotation) for o in options.values()]
        params.sort(key=lambda p: p.kind == kw)  # arguments first, as Python requires
        own_checks = {p.name: c for p in params if p.name not in options and (c := _own_check(p)) is not None}
        # what --config may set, by file key (the option's name: `store` for a `store_path` given as --store)
        settings = {n: o.setting for n, o in options.items() if o.setting is not None}
        keys = {n: n for n in settings}  # file key -> parameter
        for p in params:
            if p.name not in options and p.default is not inspect.Parameter.empty:
                if (st := setting_for(p.annotation)) is not None:
                    if (key := _file_key(p)) in settings:
                        raise TypeError(f"{fn.__name__}: {p.name!r} and an option are both {key!r} in a config file")
                    settings[key], keys[key] = st, p.name
        if specs:
            params += [
                inspect.Parameter(CONFIG, kw, default=None, annotation=CONFIG_OPTION),
                inspect.Parameter(PRINT, kw, default=False, annotation=PRINT_OPTION),
                inspect.Parameter(CONTEXT, kw, annotation=typer.Context),
            ]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            _from_file(kwargs, settings, keys)
            printing = kwargs.pop(PRINT, False)
            shown = {k: kwargs[n] for k, n in keys.items() if n not in options and n in kwargs}  # the command's own
            for name, check in own_checks.items():
                if name in kwargs:
                    check(kwargs[name])
            values: dict[str, dict[tuple[str, ...], object]] = {g: {} for g in specs}
            for name, opt in options.items():
                value = kwargs.pop(name)
                if opt.check is not None:
                    opt.check(value)
                if isinstance(value, enum.Enum):
                    value = value.value
                if opt.csv:
                    value = ",".join(value) if isinstance(value, list) else value
                    value = tuple(v.strip() for v in (value or "").split(",") if v.strip())
                if not opt.secret:
                    shown[name] = value  # None for a computed default (e.g. the cache dir): computed again
                if opt.factory and value is None:
                    continue
                for gname, path in routes[name]:
                    values[gname][path] = value
            configs = {g: _build(specs[g].cls, values[g]) for g in specs}  # checked before anything is printed
            if printing:
                typer.echo(dump(shown), nl=False)
                return None
            return fn(*args, **kwargs, **configs)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return decorate


CONFIG, PRINT, CONTEXT = "config_file", "print_config", "config_context"  # what every command with configs gains
PRINT_OPTION = Annotated[
    bool,
    typer.Option(
        "--print-config",
        help="Print this command's settings (the --config file's and the flags', as YAML for --config) "
        "and exit without running it.",
    ),
]
CONFIG_OPTION = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="A YAML file of this command's settings (KEY: VALUE, the keys its options' names without --); "
        "flags given here win over it. `agentnet runs RUN --config-out FILE` writes a run's.",
    ),
]


def _file_key(p: inspect.Parameter) -> str:
    """A command's own option as a config file names it: its flag without -- (`--store` → store)."""
    extras = get_args(p.annotation)[1:] if get_origin(p.annotation) is Annotated else ()
    info = next((e for e in extras if isinstance(e, typer.models.OptionInfo)), None)
    given = (
        getattr(info, "default", None),
        *(getattr(info, "param_decls", None) or ()),
    )  # Annotated: decls from default
    decls = [d for d in given if isinstance(d, str) and d.startswith("--")]
    return decls[0].split("/")[0][2:].replace("-", "_") if decls else p.name


def _from_file(kwargs: dict[str, Any], settings: dict[str, Setting], keys: dict[str, str]) -> None:
    """The --config file's values in `kwargs`, except where a flag was given on the command line."""
    ctx, path = kwargs.pop(CONTEXT, None), kwargs.pop(CONFIG, None)
    if path is None or ctx is None:
        return
    for key, value in load_config(path, settings, ctx.command_path).items():
        name = keys[key]
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":
            kwargs[name] = value


def _own_check(p: inspect.Parameter) -> _Check | None:
    """The check of a command's own numeric parameter (`Annotated[float, typer.Option(...)]`)."""
    tp, info = p.annotation, None
    if get_origin(tp) is Annotated:
        tp, *extras = get_args(tp)
        info = next((e for e in extras if isinstance(e, typer.models.ParameterInfo)), None)
    decls = [d for d in getattr(info, "param_decls", None) or () if d.startswith("--")]
    if isinstance(info, typer.models.ArgumentInfo):
        label = p.name.upper()
    else:
        label = decls[0].split("/")[0] if decls else "--" + p.name.replace("_", "-")
    return _number_check(label, tp)


def user_errors(fn: F, console: Console) -> F:
    """Expected failures (`AgentNetError`) print one line on `console` and exit 2; anything else
    is a bug and keeps its traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AgentNetError as e:
            console.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def command(
    app: typer.Typer, console: Console, name: str | None = None, help: str | None = None, **configs: type | Group
) -> Callable[[F], F]:
    """Register a command whose config parameters become options and whose user errors are one line."""

    def decorate(fn: F) -> F:
        app.command(name, help=help)(user_errors(config_options(**configs)(fn), console))
        return fn

    return decorate


__all__ = ["Group", "command", "config_options", "user_errors"]
