"""Command-line options that pluggable parts (generators, encoders) declare for themselves.

A registered class may define a classmethod ``options()`` returning :class:`Option`
descriptors, one per constructor argument it offers on the command line. The CLI merges the
declarations of every registered class into one set of argparse flags (a flag several classes
declare alike is added once, its help naming them), and the chosen class receives only its own
options, and only those the user set: unset ones keep the class defaults.

Nothing here imports a model library: declaring options must stay cheap, since the CLI
collects them from every registered class to build its parser.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from xqg_pyserini.errors import InputError


@dataclass(frozen=True)
class Option:
    """One command-line flag and the constructor argument it sets.

    ``flag``, ``help``, ``type``, ``choices``, ``action``, ``metavar``: as argparse takes them.
    ``default``: argparse's default; ``None`` means "unset", so the class default applies (an
    option with another default is always passed). ``keyword``: the constructor argument
    (default: the flag's name with underscores). ``convert``: turns a given value into the
    argument (e.g. a file name into its text). ``default_factory``: the argument when the flag
    is unset (e.g. ``cuda`` when there is a GPU). ``required``: the error message when the flag
    is unset. ``from_record``: when unset, taken from the settings a file recorded (an index's
    encoder).
    """

    flag: str
    help: str = ""
    type: Callable[[str], Any] | None = None
    default: Any = None
    choices: tuple[Any, ...] | None = None
    action: str | type[argparse.Action] | None = None
    metavar: str | None = None
    keyword: str | None = None
    convert: Callable[[Any], Any] | None = None
    default_factory: Callable[[], Any] | None = None
    required: str | None = None
    from_record: bool = False

    @property
    def dest(self) -> str:
        """The argparse attribute: shared by every class that declares the same flag."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def argument(self) -> str:
        return self.keyword or self.dest

    def parser_spec(self) -> tuple[Any, ...]:
        """What argparse is told apart from the help; declarations of one flag must agree on it."""
        return (self.type, self.default, self.choices, self.action, self.metavar)

    def add_to(self, group: Any, help: str | None = None) -> None:
        spec: dict[str, Any] = {"default": self.default, "help": self.help if help is None else help}
        for key in ("type", "choices", "action", "metavar"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        group.add_argument(self.flag, **spec)


def taken_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings ``parser`` has already (argparse offers no public view of them)."""
    return set(parser._option_string_actions)


def declared_options(cls: Any, fallback: Sequence[Option] = ()) -> list[Option]:
    """``cls.options()``, or ``fallback`` for a class that declares none."""
    options = getattr(cls, "options", None)
    return list(options()) if callable(options) else list(fallback)


@dataclass(frozen=True)
class MergedOption:
    """One flag for the parser and the classes (``owners``) that declared it."""

    option: Option
    owners: tuple[str, ...]
    help: str


class OptionConflict(ValueError):
    """Two classes declare one flag differently (type, default, choices, action): a plug-in's bug."""


def merge_options(declared: Mapping[str, Sequence[Option]]) -> list[MergedOption]:
    """One entry per flag, in first-declared order. ``declared``: owner name -> its options.

    The help of a flag several owners declare says which ones: ``"text (a, b)"`` when their
    texts agree, else ``"a, b: text; c: other text"``.
    """
    by_flag: dict[str, list[tuple[str, Option]]] = {}
    for owner, options in declared.items():
        for option in options:
            entries = by_flag.setdefault(option.flag, [])
            if entries and entries[0][1].parser_spec() != option.parser_spec():
                raise OptionConflict(f"{owner} declares {option.flag} unlike {entries[0][0]} "
                                     f"({option.parser_spec()} vs {entries[0][1].parser_spec()})")
            entries.append((owner, option))
    return [MergedOption(entries[0][1], tuple(owner for owner, _ in entries), _merged_help(entries))
            for entries in by_flag.values()]


def _merged_help(entries: list[tuple[str, Option]]) -> str:
    if len(entries) == 1:
        return entries[0][1].help
    owners_of: dict[str, list[str]] = {}
    for owner, option in entries:
        owners_of.setdefault(option.help, []).append(owner)
    if len(owners_of) == 1:
        text, owners = next(iter(owners_of.items()))
        return f"{text} ({', '.join(owners)})" if text else ", ".join(owners)
    return "; ".join(f"{', '.join(owners)}: {text}" if text else ", ".join(owners)
                     for text, owners in owners_of.items())


def chosen_values(options: Iterable[Option], args: argparse.Namespace) -> dict[str, Any]:
    """Constructor arguments from the flags the user set (plus ``default_factory`` values)."""
    values: dict[str, Any] = {}
    for option in options:
        value = getattr(args, option.dest, None)
        if value is not None:
            values[option.argument] = option.convert(value) if option.convert else value
        elif option.default_factory is not None:
            values[option.argument] = option.default_factory()
        elif option.required:
            raise InputError(option.required)
    return values


def int_at_least(minimum: int):
    """argparse type: an int >= ``minimum`` (the library would raise a ValueError, not an input error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value
    return parse


positive_int, non_negative_int = int_at_least(1), int_at_least(0)


def numbers(text: str) -> str:
    """argparse type: finite numbers separated by spaces or commas, checked here and kept as given."""
    import math

    for item in text.replace(",", " ").split():
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {item!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"not a finite number: {item!r}")
    return text


def add_overwrite_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--overwrite``: the one meaning every command that writes gives it (see ``io/atomic.py``)."""
    parser.add_argument("--overwrite", action="store_true",
                        help=f"let --output replace a file or another kind of xqg output (an earlier {what} "
                             "is replaced without it; a directory xqg did not write, never)")


def comma_list(value: str | None) -> list[str] | None:
    """``"ar, ja,"`` -> ``["ar", "ja"]``; None or empty -> None."""
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


def file_text(flag: str) -> Callable[[str], str]:
    """A ``convert`` that reads the named file, with an InputError naming ``flag`` if it cannot."""
    def read(path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"{flag}: cannot read the file ({err})", path=path) from None

    return read


def collect_options(registry: Any, fallback: Sequence[Option] = (), *,
                    base: Mapping[str, Sequence[Option]] | None = None,
                    reserved: Iterable[str] = ()) -> tuple[dict[str, list[Option]], dict[str, str]]:
    """The options of every class in ``registry`` (a :class:`~xqg_pyserini.registry.Registry`).

    ``base``: options the command declares itself, which the classes' must agree with;
    ``reserved``: flags the command already has, which no class may declare. Returns owner name
    -> options (a class registered under several names counts once, under its first name), and
    plug-in name -> why it is left out: a plug-in that fails to load or whose options clash is
    skipped with a warning, so one broken plug-in does not break the other commands. A built-in
    that clashes raises.
    """
    import warnings

    reserved = set(reserved)
    declared: dict[str, list[Option]] = {}
    unavailable: dict[str, str] = {}
    seen: set[int] = set()
    for name in registry.in_order():
        try:
            cls = registry.get(name)
            if id(cls) in seen:
                continue
            options = declared_options(cls, fallback)
            taken = sorted(option.flag for option in options if option.flag in reserved)
            if taken:
                raise OptionConflict(f"{name} declares {', '.join(taken)}, which the command has already")
            merge_options({**(base or {}), **declared, name: options})
        except Exception as err:  # noqa: BLE001 (third-party code: any failure leaves the plug-in out)
            if registry.is_builtin(name):
                raise
            unavailable[name] = f"{type(err).__name__}: {err}"
            warnings.warn(f"{registry.kind} plug-in {name!r} is left out: {unavailable[name]}", stacklevel=2)
            continue
        seen.add(id(cls))
        declared[name] = options
    return declared, unavailable
