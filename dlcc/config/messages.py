"""Error messages: a pydantic ValidationError becomes dlcc's one-line-per-problem text.

Each line reads `source: key.path: what is wrong (got VALUE)`, with the path as the user wrote
it (no pydantic branch labels) and a "did you mean" hint for a misspelt key or name. A value that
fits no branch of a union (`batch_size: 32 | full`) is one line saying what is allowed, not one
line per branch; what is allowed is read from the schema (its JSON schema), so every union-typed
key says it the same way.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.errors import PydanticInvalidForJsonSchema

from dlcc.config.schema import Config

# Pydantic's labels for union branches, for where the schema cannot tell (inside `data.options`,
# whose model depends on the dataset): `literal['full']`, `constrained-int`, `str`, ...
_TYPE_LABELS = ("function-", "literal[", "constrained-", "list[", "dict[", "union[", "nullable[")
_LABEL_WORDS = {"int": "an integer", "float": "a number", "str": "text", "bool": "true or false", "list": "a list",
                "dict": "a mapping", "constrained-int": "an integer", "constrained-float": "a number"}
_YAML_WORDS = {None: "null", True: "true", False: "false"}
# A custom message that starts with the key it is about: `layers.0.activation: 'step' has ...`.
_KEY_FIRST = re.compile(r"([A-Za-z_]\w*(?:\.\w+)*): (.+)", re.DOTALL)


def shorten(text, limit: int = 80) -> str:
    """Text cut to `limit` characters with a note of how long it was: a 100,000-character value
    in an error message would bury the message."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text):,} characters)"


def did_you_mean(word: str, choices) -> str:
    """`; did you mean 'X'?` for the closest of `choices`, or "" if none is close."""
    hint = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean '{hint[0]}'?" if hint else ""


def format_errors(exc: ValidationError, source: str, blame: dict | None = None,
                  model: type[BaseModel] = Config, base_valid: bool = False) -> str:
    """One line per problem: `source: key.path: what is wrong (got VALUE)`.

    blame: {dotted key: the override that set it, e.g. "--set KEY=VALUE"}; a problem at, under or
    above such a key is that override's, so its line names the override instead of `source`.
    model: the model that raised `exc` (Config, or a sweep file's SweepSpec).
    base_valid: `source` validated before the overrides were applied, so a problem that no
    override's key explains is still theirs (a check across keys): `source with --set ...`.
    """
    root = _json_schema(model)
    places: dict[Any, list] = {}  # the errors of one place; a union's branches share theirs
    unions: dict[tuple, tuple] = {}
    for n, err in enumerate(exc.errors(include_url=False)):
        path, union, node = _walk(root, err["loc"])
        place = tuple(path[:union[0]]) if union is not None else n
        unions.setdefault(place, union)
        places.setdefault(place, []).append((path, node, err))
    lines = []
    for place, errors in places.items():
        inside = [e for e in errors if isinstance(place, tuple) and len(e[0]) > len(place)]
        if isinstance(place, tuple) and not inside and len({e[2]["loc"] for e in errors}) > 1:
            problems = [_union_problem(list(place), unions[place], root, [e[2] for e in errors])]
        else:  # a plain error, or one branch was the value's and failed further in: that is the news
            problems = [_problem(path, node, err, root, model) for path, node, err in (inside or errors)]
        for path, msg in problems:
            where = ".".join(path) or "(top level)"
            lines.append(f"{_blamed(where, blame, source, base_valid)}: {where}: {msg}")
    return "\n".join(dict.fromkeys(lines))


def _blamed(path: str, blame: dict | None, source: str, base_valid: bool) -> str:
    """Whom a problem at `path` is blamed on: the override that set this key or the section
    holding it (the longest such key), else one that set a key inside it (an initializer's name
    that needs a `std`), else `source`, with every override when `source` was valid without them
    (a check across keys, `loss` against the last layer's activation, that an override broke)."""
    keys = list(blame or {})
    holding = [k for k in keys if path == k or path.startswith(k + ".")]
    if holding:
        return blame[max(holding, key=len)]
    inside = [k for k in keys if k.startswith(path + ".")]
    if inside:
        return blame[inside[0]]
    others = [label for label in dict.fromkeys((blame or {}).values()) if not label.startswith(source)]
    return f"{source} with {' '.join(others)}" if base_valid and others else source


def _problem(path: list[str], node, err: dict, root: dict, model: type[BaseModel]) -> tuple[list[str], str]:
    """(key path, message) for one pydantic error, reworded where pydantic's words are its own."""
    kind, ctx, msg = err["type"], err.get("ctx", {}), err["msg"].removeprefix("Value error, ")
    node = _deref(root, node)
    if kind == "extra_forbidden" and path:
        hint = did_you_mean(path[-1], sorted(_all_field_names(model)))
        # The name is right but the place is not: a setting of another variant (momentum on adam).
        return path, (f"unknown key here ('{path[-1]}' is a setting of another variant)"
                      if hint == f"; did you mean '{path[-1]}'?" else "unknown key" + hint)
    if kind == "missing":
        return path, msg
    if kind == "value_error":  # our own words; a leading key names the place (`nesterov: ...`)
        match = _KEY_FIRST.fullmatch(msg)
        if match and _has_key(root, node, match[1].split(".")[0]):
            return path + match[1].split("."), match[2]
        return path, msg + _got(err)
    if kind in ("union_tag_invalid", "union_tag_not_found"):  # `optimizer: {name: adma}`: the name is wrong
        names = _variant_names(node or {})
        field = ((node or {}).get("discriminator") or {}).get("propertyName", "name")
        if kind == "union_tag_not_found":
            return path + [field], f"Field required: one of {_either([repr(n) for n in names])}"
        tag = str(ctx.get("tag"))
        return path + [field], f"Input should be {_either([repr(n) for n in names])} (got {shorten(repr(tag))})" + \
            did_you_mean(tag, names)
    if kind in ("model_type", "model_attributes_type", "dict_type") and node is not None:
        return path, f"must be {_allowed(node, root)}" + _got(err)
    if kind in ("too_short", "too_long"):
        least = kind == "too_short"
        count = ctx.get("min_length" if least else "max_length")
        return path, (f"needs at least {count} item(s)" if least else f"takes at most {count} items") + \
            f" (got {ctx.get('actual_length')})"
    return path, _in_words(kind, msg, ctx, node) + _got(err) + _hint(kind, ctx, err.get("input"))


def _in_words(kind: str, msg: str, ctx: dict, node: dict | None) -> str:
    """Pydantic's message for a value of the wrong type or form, with what is allowed said fully."""
    if kind in ("int_type", "int_parsing", "float_type", "float_parsing"):  # not ", unable to parse string as ..."
        msg = f"Input should be a valid {'integer' if kind.startswith('int') else 'number'}"
        number = ([b for b in _branches(node or {}) if b.get("type") in ("integer", "number")] or [node or {}])[0]
        if number.get("type") in ("integer", "number"):  # and its bounds: "a valid integer from 1 to 100000"
            msg = f"{msg} {_range(number)}".strip()
    if kind in ("bool_type", "bool_parsing"):
        msg = "Input should be true or false"
    if kind == "string_pattern_mismatch":
        msg = _pattern_in_words(ctx.get("pattern", "")) or msg
    return msg


def _hint(kind: str, ctx: dict, value) -> str:
    """`; did you mean 'relu'?` for a misspelt choice."""
    if kind != "literal_error" or not isinstance(value, str):
        return ""
    return did_you_mean(value, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))


def _union_problem(path: list[str], union: tuple, root: dict, errors: list[dict]) -> tuple[list[str], str]:
    """One line for a value that fits none of a union's branches: what each branch allows."""
    _, at, node = union
    if node:
        allowed, literals = _allowed(node, root), [b.get("const") for b in _branches(node)]
    else:  # no schema here (a dataset's options): say it from pydantic's labels
        labels = [str(e["loc"][at]) for e in errors]
        allowed = _either(list(dict.fromkeys(_label_in_words(label) for label in labels)))
        literals = [m[1] for label in labels if (m := re.fullmatch(r"literal\['(.*)'\]", label))]
    value = errors[0].get("input")
    hint = did_you_mean(value, [v for v in literals if isinstance(v, str)]) if isinstance(value, str) else ""
    return path, f"must be {allowed}{_got(errors[0])}{hint}"


def _got(err: dict) -> str:
    """` (got VALUE)`, VALUE as Python shows it but null, true and false as YAML writes them."""
    value = err.get("input")
    if "input" not in err or isinstance(value, (dict, list)):
        return ""
    return f" (got {_YAML_WORDS[value] if value is None or isinstance(value, bool) else shorten(repr(value))})"


def _pattern_in_words(pattern: str) -> str | None:
    """The name patterns (run and sweep names become folder names) said in words, not as a regex."""
    match = re.fullmatch(r"\^\[A-Za-z0-9\]\[A-Za-z0-9\._-\]\{0,(\d+)\}\$", pattern)
    if match is None:
        return None
    return (f"must be 1 to {int(match[1]) + 1} letters, digits, '.', '_' or '-', starting with a letter "
            "or digit (it names a folder)")


# --------------------------------------------------------------------------- the schema, walked

@functools.cache
def _json_schema(model: type[BaseModel]) -> dict:
    try:
        return model.model_json_schema()
    except PydanticInvalidForJsonSchema:  # a type JSON schema cannot say: words from pydantic's labels
        return {}


def _walk(root: dict, loc: tuple) -> tuple[list[str], tuple | None, dict | None]:
    """(the key path a user wrote, the first plain union on the way, the schema at the end).

    Pydantic labels the branch it tried: the tag of a discriminated union (`optimizer.sgd.lr`)
    or a type name for a plain union (`batch_size.constrained-int`). The schema says where a
    union is, so a user's own key (`variants: {Adam: ...}`) is never taken for a label. The
    union is (how many keys of the path lead to it, where its label is in `loc`, its schema).
    """
    node: dict | None = root
    path: list[str] = []
    union = None
    for i, part in enumerate(loc):
        node = _deref(root, node)
        branches = _branches(node) if node is not None else []
        if len(branches) > 1 or (node is None and _looks_like_label(part)):
            if "discriminator" in (node or {}):
                node = node["discriminator"]["mapping"].get(str(part))
                node = {"$ref": node} if node else None
            else:
                union = union or (len(path), i, node)
                node = next((b for b in branches if (_deref(root, b) or {}).get("title") == part), None)
            continue
        if len(branches) == 1:  # `X | None`: pydantic adds no label; go into X
            node = _deref(root, branches[0])
        path.append(str(part))
        node = _child(node, part)
    return path, union, node


def _looks_like_label(part) -> bool:
    text = str(part)
    return text.startswith(_TYPE_LABELS) or text in _LABEL_WORDS


def _label_in_words(label: str) -> str:
    literal = re.fullmatch(r"literal\[(.*)\]", label)
    return literal[1] if literal else _LABEL_WORDS.get(label.split("[")[0], label)


def _deref(root: dict, node: dict | None) -> dict | None:
    while isinstance(node, dict) and "$ref" in node:
        node = root.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1])
    return node


def _branches(node: dict) -> list:
    """The branches of a union, `null` left out (`X | None` is one branch)."""
    return [b for b in node.get("oneOf") or node.get("anyOf") or [] if b.get("type") != "null"]


def _variant_names(node: dict) -> list[str]:
    """The names of a discriminated union's variants, in the schema's order."""
    mapping = (node.get("discriminator") or {}).get("mapping", {})
    return sorted(mapping, key=lambda name: [b.get("$ref") for b in node.get("oneOf", [])].index(mapping[name]))


def _child(node: dict | None, part) -> dict | None:
    if not node:
        return None
    if part in node.get("properties", {}):
        return node["properties"][part]
    extra = node.get("additionalProperties")  # a dict's values: their schema, or True for any value
    if extra:
        return extra if isinstance(extra, dict) else {}
    return node.get("items") if isinstance(part, int) else None


def _has_key(root: dict, node: dict | None, key: str) -> bool:
    """Whether `key` is a key of the mapping `node` (or of one of its union's branches)."""
    node = _deref(root, node) or {}
    options = [_deref(root, b) or {} for b in _branches(node)] or [node]
    return any(key in o.get("properties", {}) or isinstance(o.get("additionalProperties"), dict) for o in options)


def _allowed(node: dict, root: dict) -> str:
    """What a schema allows, in words: `a positive integer or 'full'`."""
    node = _deref(root, node) or {}
    if "discriminator" in node:
        names = [repr(n) for n in _variant_names(node)]
        return f"a name ({_either(names)}) or a mapping with a name and its settings"
    if "oneOf" in node or "anyOf" in node:
        nullable = any(b.get("type") == "null" for b in node.get("oneOf") or node["anyOf"])
        return _either([_allowed(b, root) for b in _branches(node)] + ["null"] * nullable)
    if "const" in node:
        return repr(node["const"])
    if "enum" in node:
        return "one of " + _either([repr(v) for v in node["enum"]])
    kind = node.get("type")
    if kind in ("integer", "number"):
        return _number_in_words(node)
    if kind == "object" and node.get("properties"):
        keys = ", ".join(node["properties"])
        names = node["properties"].get("name", {}).get("enum")
        # in this schema a section with a choice of names may be given as the name alone (`weights: he_normal`)
        shorthand = f"a name ({_either([repr(n) for n in names])}) or " if names else ""
        return f"{shorthand}a mapping with the keys {keys}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"a mapping of keys to {_allowed(node['additionalProperties'], root)}"
    return {"null": "null", "boolean": "true or false", "string": "text", "array": "a list",
            "object": "a mapping"}.get(kind, "a value")


def _number_in_words(node: dict) -> str:
    """`an integer from 1 to 256`, `a number in [0, 1)`, `a positive integer`, `a number > 0`."""
    noun = "an integer" if node["type"] == "integer" else "a number"
    if noun == "an integer" and node.get("minimum") == 1 and "maximum" not in node and "exclusiveMaximum" not in node:
        return "a positive integer"
    return f"{noun} {_range(node)}".strip()


def _range(node: dict) -> str:
    """A number's bounds in words: `from 1 to 256`, `in [0, 1)`, `>= 0`, `> 0`, or ""."""
    low, high = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
    if low is not None and high is not None:
        if node["type"] == "integer" and "minimum" in node and "maximum" in node:
            return f"from {low} to {high}"
        return f"in {'[' if 'minimum' in node else '('}{low}, {high}{']' if 'maximum' in node else ')'}"
    if low is not None:
        return f"{'>=' if 'minimum' in node else '>'} {low}"
    if high is not None:
        return f"{'<=' if 'maximum' in node else '<'} {high}"
    return ""


def _either(items: list[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


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
