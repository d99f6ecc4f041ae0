"""Error messages: a pydantic ValidationError becomes dlcc's one-line-per-problem text.

Each line reads `source: key.path: what is wrong (got VALUE)`, with the path as the user wrote
it (no pydantic branch labels) and a "did you mean" hint for a misspelt key.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from dlcc.config.schema import VARIANTS, Config

# Prefixes of the labels pydantic gives the branches of a plain union (`literal['full']`, ...).
_TYPE_LABELS = ("function-", "literal[", "constrained-", "list[", "dict[", "union[", "nullable[")


def shorten(text, limit: int = 80) -> str:
    """Text cut to `limit` characters with a note of how long it was: a 100,000-character value
    in an error message would bury the message."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text):,} characters)"


def did_you_mean(word: str, choices) -> str:
    """`; did you mean 'X'?` for the closest of `choices`, or "" if none is close."""
    hint = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean '{hint[0]}'?" if hint else ""


def format_errors(exc: ValidationError, source: str, blame: dict | None = None) -> str:
    """One line per problem: `source: key.path: what is wrong (got VALUE)`.

    blame: {dotted key: "--set KEY=VALUE"}; a problem at or under such a key is that flag's, so
    its line names the flag instead of the file.
    """
    lines = []
    for err in exc.errors(include_url=False):
        loc = _user_path(err["loc"])
        path = ".".join(loc) or "(top level)"
        source_here = next((flag for key, flag in (blame or {}).items()
                            if path == key or path.startswith(key + ".")), source)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            hint = did_you_mean(loc[-1], sorted(_all_field_names()))
            # The name is right but the place is not: a setting of another variant (momentum on adam).
            msg = (f"unknown key here ('{loc[-1]}' is a setting of another variant)" if hint == f"; did you mean '{loc[-1]}'?"
                   else "unknown key" + hint)
        elif err["type"] not in ("missing",) and "input" in err and not isinstance(err["input"], (dict, list)):
            if err["type"] == "string_pattern_mismatch":
                msg = _pattern_in_words(err.get("ctx", {}).get("pattern", "")) or msg
            msg += f" (got {shorten(repr(err['input']))})"
        lines.append(f"{source_here}: {path}: {msg}")
    # pydantic reports one error per union branch for `int | "full"`; keep the lines unique.
    return "\n".join(dict.fromkeys(lines))


def _pattern_in_words(pattern: str) -> str | None:
    """The name patterns (run and sweep names become folder names) said in words, not as a regex."""
    match = re.fullmatch(r"\^\[A-Za-z0-9\]\[A-Za-z0-9\._-\]\{0,(\d+)\}\$", pattern)
    if match is None:
        return None
    return (f"must be 1 to {int(match[1]) + 1} letters, digits, '.', '_' or '-', starting with a letter "
            "or digit (it names a folder)")


def _user_path(loc: tuple) -> list[str]:
    """The key path a user wrote, without pydantic's union-branch labels.

    Pydantic adds a label for the branch it tried: the tag of a discriminated union
    (`optimizer.sgd.lr`), or a type name for a plain union (`batch_size.int`,
    `batch_size.literal['full']`, `init.InitSpec`). Field names are never such labels.
    """
    path: list[str] = []
    for part in loc:
        text = str(part)
        if path and path[-1] in ("optimizer", "schedule") and text in VARIANTS:
            continue
        if text[:1].isupper() or text.startswith(_TYPE_LABELS) or text in ("int", "float", "str", "bool"):
            continue
        path.append(text)
    return path


def _all_field_names(model: type[BaseModel] = Config, seen: set | None = None) -> set[str]:
    """Every key the schema knows, for 'did you mean' hints on misspelt keys."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            names |= _all_field_names(sub, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (through unions, Optional and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found += _models_in(meta)
    return found
