"""Strict command-line parsing: an unknown option is an error that suggests the option meant.

argparse accepts abbreviations and, through ``parse_known_args``, anything at all; Beam's own
parser discards what it does not know with a log warning. Both let a typo (``--dedup_ttl_hour``)
run a job with the default instead. Here every mistake is a :class:`UsageError`: one line that
names the option, the closest known one (difflib) and where to look, which the command turns into
exit status 2.

The pipeline's options (``pipeline.options.NewswireOptions``) are declared once, for Beam; the
``newswire`` commands that run the pipeline take them too, through :func:`add_pipeline_options`.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable, Mapping

from apache_beam.options.pipeline_options import PipelineOptions


class UsageError(Exception):
    """A mistake in how a command was called; the message is one line that says how to fix it."""


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, if one is close enough to be what was meant."""
    candidates = list(candidates)
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not found:
        # Beam spells options with underscores, newswire's own with dashes: compare without them.
        plain = {c.replace("_", "-"): c for c in candidates}
        found = [plain[m] for m in difflib.get_close_matches(word.replace("_", "-"), list(plain), n=1,
                                                              cutoff=0.6)]
    return found[0] if found else None


def unknown_arguments_message(extra: list[str], known: Iterable[str],
                              hints: Mapping[str, str] | None = None) -> str:
    """What to say about the first of the arguments no option took."""
    token = extra[0]
    if not token.startswith("-") or token == "-":
        hint = (hints or {}).get("")
        return f"unexpected argument {token!r}" + (f" ({hint})" if hint else "")
    name = token.split("=", 1)[0]
    message = f"unknown option {name}"
    hint = (hints or {}).get(name)
    close = suggest(name, known)
    if close:
        message += f"; did you mean {close}?"
    if hint:
        message += f" ({hint})"
    return message


class StrictParser(argparse.ArgumentParser):
    """An ArgumentParser without abbreviations whose errors are :class:`UsageError`.

    ``hints`` maps an option people try (``--interval``) to where that setting really lives; the
    hint for ``""`` is given for an unexpected positional argument.
    """

    def __init__(self, *args, hints: Mapping[str, str] | None = None, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.hints = dict(hints or {})

    def known_options(self) -> list[str]:
        return [s for s in self._option_string_actions if s.startswith("--")]

    def parse_args(self, args=None, namespace=None):  # noqa: D102 - argparse API
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            parser = self._innermost(ns)
            parser.error(unknown_arguments_message(extra, parser.known_options(), parser.hints))
        return ns

    def _innermost(self, ns) -> "StrictParser":
        """The sub-command's parser the unknown arguments were given to (else this one)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001 - no public accessor
                chosen = action.choices.get(getattr(ns, action.dest, None) or "")
                if isinstance(chosen, StrictParser):
                    return chosen._innermost(ns)
        return self

    def error(self, message: str):  # noqa: D102 - argparse API
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


# -- the pipeline's options on other commands -------------------------------------------------------


class _Recorder:
    """Stands in for a parser to collect what an options class declares."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []

    def add_argument(self, *args, **kwargs) -> None:
        self.calls.append((args, kwargs))


def _dest(args: tuple, kwargs: dict) -> str:
    return kwargs.get("dest") or args[0].lstrip("-").replace("-", "_")


def option_declarations(options_class: type[PipelineOptions]) -> list[tuple[tuple, dict]]:
    """(args, kwargs) of every ``add_argument`` an options class makes."""
    recorder = _Recorder()
    options_class._add_argparse_args(recorder)  # noqa: SLF001 - the hook every options class defines
    return recorder.calls


def _readable(convert, name: str):
    """A type function whose error says what was expected (argparse prints its __name__ otherwise)."""
    if convert is None or convert is str:
        return convert
    expected = {int: "a whole number", float: "a number"}.get(convert, "true or false")

    def parse(text: str):
        try:
            return convert(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    parse.__name__ = getattr(convert, "__name__", name)
    return parse


def add_pipeline_options(parser: argparse.ArgumentParser, skip: Iterable[str] = (),
                         title: str = "pipeline options") -> list[str]:
    """Add the pipeline's options (``--learn_*``, ``--match_*``, ``--dedup_ttl_hours``, …) to a
    command, except those in ``skip``; return their dests. Unset ones stay off the namespace, so
    only what was given is passed on and everything else keeps its one default, in options.py."""
    from .options import NewswireOptions  # noqa: PLC0415 - imports the transforms' configurations

    skip = set(skip)
    group = parser.add_argument_group(title, "The options of python -m pipeline.main; each one's "
                                             "default is in its help.")
    dests = []
    for args, kwargs in option_declarations(NewswireOptions):
        dest = _dest(args, kwargs)
        if dest in skip:
            continue
        kwargs = {**kwargs, "default": argparse.SUPPRESS,
                  "type": _readable(kwargs.get("type"), args[0])}
        group.add_argument(*args, **kwargs)
        dests.append(dest)
    return dests


def pipeline_flags(ns: argparse.Namespace, dests: Iterable[str]) -> list[str]:
    """The pipeline options given on a command line, as flags for ``PipelineOptions``."""
    flags = []
    for dest in dests:
        if hasattr(ns, dest):
            value = getattr(ns, dest)
            flags.append(f"--{dest}={str(value).lower() if isinstance(value, bool) else value}")
    return flags


def _beam_parser() -> argparse.ArgumentParser:
    """A parser of every option some Beam options class (newswire's included) declares, built as
    ``PipelineOptions.get_all_options`` builds it."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser  # noqa: PLC0415

    parser = _BeamArgumentParser(allow_abbrev=False)
    seen: dict[str, type] = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # noqa: SLF001
    return parser


def beam_option_names() -> list[str]:
    return [s for s in _beam_parser()._option_string_actions if s.startswith("--")]  # noqa: SLF001


def unknown_beam_arguments(argv: list[str]) -> list[str]:
    """The arguments of ``argv`` that no Beam options class takes."""
    _, unknown = _beam_parser().parse_known_args(argv)
    return unknown
