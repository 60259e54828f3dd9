"""A command's settings in a YAML file (`--config run.yaml`), as TRL's parser reads one: the keys are
the command's long option names without `--` (`max_tokens` or `max-tokens`), and a flag given on the
command line wins over the file, which wins over the environment and the built-in defaults.

Every value is checked against the option's type before the command runs (whole numbers, finite
floats, true/false, a listed choice; a list for a comma-separated option), so a bad file is one line
naming the file, the key and the fix, and nothing is created. `settings_of` turns a stored config
(e.g. a bench run's `RunConfig`) into such a file, so `agentnet bench --config run.yaml` replays it.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agentnet.checks import Kind, check_texts, check_value, kind_of, number, read_text, show
from agentnet.errors import ConfigError

SUFFIXES = (".yaml", ".yml", ".json")  # JSON is YAML too
T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """What a key of a config file may hold: the option's scalar kind (or "path"/"list"), whether
    it may be null, and its choices."""

    kind: Kind | typing.Literal["path", "list"]
    optional: bool = False
    choices: tuple[str, ...] = ()
    limits: tuple[tuple[str, float], ...] = ()  # a number's range: ("ge", 1), ("le", 64)…


def setting_for(tp: object, choices: tuple[str, ...] = (), limits: Mapping[str, float] | None = None) -> Setting | None:
    """The setting a parameter of type `tp` takes from a file; None for a type no file sets."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            return None
        tp, optional = args[0], True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        choices = tuple(str(m.value) for m in tp)
    if choices:
        return Setting("str", optional, choices)
    kind, _ = kind_of(tp)
    if kind is not None:
        return Setting(kind, optional, limits=tuple((limits or {}).items()))
    if tp is Path:
        return Setting("path", optional)
    if typing.get_origin(tp) in (list, tuple) and typing.get_args(tp)[:1] == (str,):
        return Setting("list", optional)
    return None


def key_of(name: str) -> str:
    """A file key as the parameter name it sets (`max-tokens` → `max_tokens`)."""
    return name.replace("-", "_")


def load(path: Path, known: Mapping[str, Setting], command: str) -> dict[str, object]:
    """The file's settings by parameter name, each checked and converted to what the option's
    parser would have produced (a Path for a path, a list of strings for a list)."""
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"--config {path}: give a .yaml (or .json) file of KEY: VALUE settings")
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"--config {path} {what}; give a YAML file of settings (`{command} --print-config` writes one)"
        )
    text = read_text(path, "config file")
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path} is not valid YAML{where} ({show(str(getattr(e, 'problem', e)), 80)}); "
            "write one KEY: VALUE per line"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a {type(data).__name__}, not KEY: VALUE settings; write e.g. `agents: 3`")
    check_texts(data, str(path))
    out: dict[str, object] = {}
    for raw_key, value in data.items():
        if not isinstance(raw_key, str):
            raise ConfigError(f"{path}: the key {show(raw_key)} is not an option name; write e.g. `agents: 3`")
        name = key_of(raw_key)
        setting = known.get(name)
        if setting is None:
            import difflib

            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"{path}: unknown setting {raw_key!r}; {hint}the keys are the options of `{command} --help`, without --"
            )
        out[name] = convert(f"{path}: {raw_key}", value, setting)
    return out


def convert(label: str, value: object, setting: Setting) -> object:
    """`value` checked as `setting` says, named `label` in the error."""
    if value is None:
        if setting.optional:
            return None
        raise ConfigError(f"{label} is empty (null); give a value or leave the key out for the default")
    if setting.choices:
        if not isinstance(value, str) or value not in setting.choices:
            listed = ", ".join(repr(c) if not c else c for c in setting.choices)
            raise ConfigError(f"{label}={show(value)} is not one of: {listed}")
        return value
    if setting.kind == "path":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{label}={show(value)} is not a file path; give one as text")
        return Path(value)
    if setting.kind == "list":
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{label}={show(value)}: give a list of texts, e.g. [a, b], or one text a,b")
        return list(items)  # a comma-separated option splits them as it splits its flag's value
    if setting.kind == "str" and isinstance(value, (bool, float)):  # YAML reads yes/no/on as booleans
        raise ConfigError(f"{label}={show(value)}: YAML read a {type(value).__name__}; quote the text, e.g. '{value}'")
    if isinstance(value, int) and not isinstance(value, bool) and setting.kind == "str":
        value = str(value)  # `adversary_answer: 0` means the text 0
    if setting.kind == "float":
        return number(label, value, float, **dict(setting.limits))
    check_value(label, value, setting.kind, False, **dict(setting.limits))
    return value


def config_from_data(
    cls: type[T],
    data: Mapping[str, object],
    what: str,
    *,
    strict: bool = True,
) -> T:
    """A config dataclass from parsed JSON/YAML (`asdict`'s shape: nested configs as mappings, tuples as
    lists). A key that is no field is an error naming `what` (`strict`) or is dropped (a file an older
    or newer version wrote); in such a lenient read, a field the data lacks takes what its absence
    meant when the file was written (the class's `legacy_defaults`, at every level), else the
    dataclass's own default. The values are then checked the one way every config checks them: by its `__post_init__`."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    if strict and (unknown := sorted(set(data) - names)):
        raise ConfigError(f"{what}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(names))}")
    kwargs: dict[str, object] = {} if strict else dict(getattr(cls, "legacy_defaults", {}))
    for name in names & set(data):
        value, tp = data[name], hints[name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
            value = config_from_data(tp, value, f"{what}: {name}", strict=strict)
        elif isinstance(value, list) and typing.get_origin(tp) is tuple:
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def settings_of(config: Any) -> dict[str, object]:
    """A config dataclass (nested ones flattened, as the CLI flattens them) as config-file settings:
    each field under its option's name, tuples as lists, paths as text."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(settings_of(value))
            continue
        flags = f.metadata.get("flags")
        name = flags[0].split("/")[0].lstrip("-").replace("-", "_") if flags else f.name
        out[name] = plain(value)
    return out


def plain(value: object) -> object:
    """A setting as YAML writes it: tuples as lists, paths as text, a choice as its value."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value.value if isinstance(value, enum.Enum) else value


def dump(settings: Mapping[str, object], header: str = "") -> str:
    """`settings` as YAML, one key a line in the order given, under a comment `header`."""
    import yaml

    class Dumper(yaml.SafeDumper):  # one key a line, lists inline: [a, b]
        pass

    Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    data = {k: plain(v) for k, v in settings.items()}
    body = yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def write(path: Path, settings: Mapping[str, object], header: str, flag: str = "--config-out") -> None:
    """`settings` as a YAML file (see `dump`), written whole or not at all."""
    from agentnet.outputs import staged_file

    with staged_file(path, flag) as tmp:
        tmp.write_text(dump(settings, header))
