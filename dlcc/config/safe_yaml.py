"""The one YAML reader: safe, YAML 1.2 floats, no duplicate keys, bounded nesting and size.

Every YAML document dlcc reads goes through `yaml_load` (config files, sweep files, `--set`
values, saved run folders), so `1e-3` means the same number everywhere, no document can run
Python code, a key written twice is an error instead of a silent "the last one wins", and a
document nested thousands of levels deep is refused before it can exhaust the stack.
`read_yaml_file` reads a config file: a regular file of at most MAX_BYTES, never a FIFO or
a device that could hang or never end.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dlcc.atomic import NotRegular, TooLarge, read_bounded

MAX_DEPTH = 64               # a config is about 5 levels deep; sweeps and options add a few
MAX_BYTES = 1 << 20          # 1 MiB: the largest shipped config is under 2 KB


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python tags, ever), reading `1e-3` as a number.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-3`) and `1e-3` is a *string*; that
    surprises everyone who writes a learning rate, so we use YAML 1.2's float rule instead.
    """

    def compose_node(self, parent, index):
        # PyYAML composes recursively; count the depth so a deep document fails here, with a
        # message, instead of with RecursionError somewhere inside the parser.
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # the base class reports unhashable keys
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark,
                        f"duplicate key {_short(key)!r} (first on line {seen[key] + 1}); "
                        "a key may appear once per mapping", key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, with _Loader's resolvers: a string that _Loader would read as a number
    (`1e-3`, a plain string to YAML 1.1) is written in quotes, so every document dlcc writes reads
    back as it was (a run named 1e-3 stays a name)."""


_Dumper.yaml_implicit_resolvers = {k: list(v) for k, v in _Loader.yaml_implicit_resolvers.items()}


def yaml_dump(data, **options) -> str:
    """YAML text that yaml_load reads back as `data` (options as for yaml.dump)."""
    return yaml.dump(data, Dumper=_Dumper, **options)


def yaml_load(text: str):
    """Parse YAML safely (see _Loader). Errors are yaml.YAMLError, deep nesting included."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except RecursionError:  # flow collections nest in the scanner too: the same error, the same words
        raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep") from None


def read_yaml_file(path: Path, what: str = "config") -> str:
    """The text of a YAML file; OSError/ValueError subclasses carry a reason in words."""
    try:
        data = read_bounded(path, MAX_BYTES)
    except TooLarge as exc:
        raise TooLarge(f"{exc}; a {what} file is a few kilobytes") from None
    except NotRegular as exc:
        raise NotRegular(f"{exc}; expected a YAML {what} file") from None
    return data.decode("utf-8")


def problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: ' (line L, column C): what' (the line of the problem)."""
    where = getattr(exc, "problem_mark", None)
    line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
    return f"{line}: {_short(problem_text(exc), 200)}"


def problem_text(exc: yaml.YAMLError) -> str:
    """What is wrong, in a few words (`expected ',' or ']', but got '}'`), without the place."""
    what = getattr(exc, "problem", None) or (str(exc).splitlines() or ["cannot parse it"])[0]
    if "'\\t'" in what:  # PyYAML's words for a tab; YAML indents with spaces only
        what += " (a tab: indent with spaces)"
    return what


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
