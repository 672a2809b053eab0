"""The strict YAML loader for :class:`sr.options.schema.Options`.

``load_options("options/esrgan_x4.yml", ["train.optim_g.lr=2e-4"])`` reads the file with a safe
loader that rejects duplicate keys and reads ``1e-4`` as a float, applies the ``--set`` overrides to
the raw mapping, then checks everything once against the frozen dataclasses: unknown keys (with
BasicSR's renamed/dropped keys named with their replacement), types, ``Literal`` choices, required
keys, component sections (``{type: Name, **kwargs}`` against the registry's constructor signature)
and the semantic rules between keys. Every failure is an :class:`OptionsError` whose message starts
with the file name and names the dotted key path. Paths are not checked for existence here (the
dataset code does that). No ``eval``/``exec``: values are YAML scalars, lists and mappings only.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import re
import reprlib
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from sr.options.rules import check_rules
from sr.options.schema import RENAMED, Options

__all__ = [
    "OptionsError",
    "apply_overrides",
    "dump_options",
    "load_options",
    "options_from_dict",
    "parse_assignment",
    "parse_value",
    "read_yaml",
]


class OptionsError(ValueError):
    """A bad option file, key, value or override; the message starts with the file name."""


# --- YAML -------------------------------------------------------------------------------------------

# YAML 1.1 needs a '.' in a float, so plain PyYAML reads 1e-4 as the string '1e-4'; this resolver
# (YAML 1.2's float syntax) makes 1e-4, 5e-3, 2E-4, 1.5E3 floats. Ints keep matching the int resolver
# first, so '10' stays an int.
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _DuplicateKeyError(yaml.YAMLError):
    pass


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects duplicate keys and reads ``1e-4`` as a float."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' merges may override
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # unhashable key: the base constructor reports it
                continue
            if first is not None:
                raise _DuplicateKeyError(f"duplicate key {key!r} at line {line} (first at line {first})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _Dumper(yaml.SafeDumper):
    """Quotes every string the loader would read as something else (e.g. a name '1e-4')."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


for _cls in (StrictLoader, _Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))


MAX_NODES = 100_000  # an options file has a few hundred values; YAML aliases may repeat a subtree
MAX_DEPTH = 64  # nesting levels; recipes use fewer than 10


def _check_size(data: Any, where: str) -> None:
    """Refuse data whose expanded size (aliases counted each time they are used, as a deep copy or
    ``repr`` would expand them: a "billion laughs" bomb) or nesting depth is beyond any recipe's,
    before anything walks it recursively. Iterative, stops at the first bound it crosses."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise OptionsError(
                f"{where}: more than {MAX_NODES} values once YAML aliases are expanded; "
                "an options file needs far fewer (an alias bomb?)"
            )
        if depth > MAX_DEPTH:
            raise OptionsError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for kv in node.items() for v in kv)
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _safe_load(text: str, where: str) -> Any:
    """``yaml.load`` with :class:`StrictLoader`, bounded by :func:`_check_size`; the composer recurses
    once per nesting level, so very deep nesting is refused by catching its ``RecursionError``."""
    try:
        data = yaml.load(text, Loader=StrictLoader)  # StrictLoader is a SafeLoader
    except RecursionError:
        raise OptionsError(f"{where}: nested too deeply to read") from None
    _check_size(data, where)
    return data


def _yaml_problem(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        return f"invalid YAML: {err.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(err)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path``; ``OptionsError`` naming the file otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise OptionsError(
            f"{path}: cannot read the options file ({err.__class__.__name__}: {err})"
        ) from None
    try:
        data = _safe_load(text, str(path))
    except yaml.YAMLError as err:
        raise OptionsError(f"{path}: {_yaml_problem(err)}") from None
    if data is None:
        raise OptionsError(
            f"{path}: the options file is empty; expected a mapping (name, network_g, train, ...)"
        )
    if not isinstance(data, dict):
        raise OptionsError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_value(text: str) -> Any:
    """One command-line value read as YAML with :class:`StrictLoader`: ``6`` an int, ``1e-4`` a
    float, ``true`` a bool, ``null`` None, ``[9, 5, 5]`` a list, anything else a string; ``""`` for
    an empty value. Raises ``yaml.YAMLError`` when the text is not valid YAML."""
    if not text.strip():
        return ""
    return _safe_load(text, "value")


def parse_assignment(item: str, flag: str) -> tuple[str, Any]:
    """``"num_block=6"`` -> ``("num_block", 6)``; a ``ValueError`` naming ``flag`` and the item when
    there is no ``=``, no key, or the value is not valid YAML."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{flag} expects key=value, got {item!r}")
    try:
        parsed = parse_value(value)
    except OptionsError as err:
        raise ValueError(f"{flag} {item!r}: {err}") from None
    except yaml.YAMLError as err:
        raise ValueError(
            f"{flag} {item!r}: cannot read the value ({err.__class__.__name__}); "
            "quote strings that start with '{', '[' or hold ': '"
        ) from None
    return key.strip(), parsed


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``dotted.key=value`` override set (values as
    :func:`parse_value`). Missing intermediate sections (or null ones) are created; a list is indexed
    by a number (``sources.1.share``); a path through a scalar, an index out of range or a malformed
    item is a ``ValueError`` naming the item. Whether the key
    is allowed is left to validation, so overrides pass the same checks as the file."""
    out = copy.deepcopy(dict(data))
    for item in overrides:
        dotted, value = parse_assignment(item, "--set")
        parts = dotted.split(".")
        if any(not p.strip() for p in parts):
            raise ValueError(f"--set {item!r}: empty key in {dotted!r}")
        node: dict[str, Any] | list[Any] = out
        for i, part in enumerate(parts):
            where = ".".join(parts[: i + 1])
            slot: Any = part
            if isinstance(node, list):  # a list of sections (datasets.train.sources.0.share=0.5)
                if not part.isdigit() or int(part) >= len(node):
                    raise ValueError(
                        f"--set {item!r}: {where}: {'.'.join(parts[:i])} is a list of {len(node)}; "
                        f"index it with 0 to {len(node) - 1}"
                    )
                slot = int(part)
            if i == len(parts) - 1:
                node[slot] = value
                break
            child = node[slot] if isinstance(node, list) else node.get(part)
            if child is None:
                child = node[slot] = {}
            elif not isinstance(child, (dict, list)):
                raise ValueError(f"--set {item!r}: {where} is {child!r}, not a section with keys")
            node = child
    return out


# --- typed validation --------------------------------------------------------------------------------


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 50, 50


def _show(value: Any) -> str:
    text = _REPR.repr(value)  # bounded: never the whole of a large value
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in get_args(tp))
    if dataclasses.is_dataclass(tp) or origin is dict or tp is dict:
        return "a mapping"
    if origin is list:
        return f"a list of {_describe(get_args(tp)[0])}" if get_args(tp) else "a list"
    return getattr(tp, "__name__", str(tp))


def _type_error(path: str, tp: Any, value: Any) -> ValueError:
    return ValueError(f"{path or 'top level'}: expected {_describe(tp)}, got {_show(value)}")


def _renamed(path: str) -> str | None:
    """The RENAMED message for a dotted key path ('*' in a pattern matches one level)."""
    parts = path.split(".")
    for pattern, message in RENAMED.items():
        pat = pattern.split(".")
        if len(pat) == len(parts) and all(p in ("*", q) for p, q in zip(pat, parts, strict=True)):
            return message
    return None


def _unknown_key(path: str, key: object, allowed: Iterable[str]) -> ValueError:
    full = _join(path, key)
    message = _renamed(full) if isinstance(key, str) else None
    if message is not None:
        return ValueError(f"{full}: {message}")
    return ValueError(f"{path or 'top level'}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


@functools.cache
def _registry(spec: str) -> Mapping[str, Any]:
    module, _, attr = spec.partition(":")
    registry = getattr(importlib.import_module(module), attr)
    if not isinstance(registry, Mapping):
        raise TypeError(f"options registry {spec} is a {type(registry).__name__}, not a mapping")
    return registry


def _check_value(value: Any, tp: Any, path: str) -> Any:
    """``value`` checked (and int -> float converted) against the type ``tp``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise _type_error(path, tp, value)
        options = [a for a in args if a is not type(None)]
        for i, arg in enumerate(options):
            try:
                return _check_value(value, arg, path)
            except ValueError:
                # the one non-null member's message is the most useful; for wider unions, the union's
                if len(options) == 1 and not _is_leaf(arg):
                    raise
                if i == len(options) - 1:
                    raise _type_error(path, tp, value) from None
    if value is None:
        raise _type_error(path, tp, value)
    if origin is Literal:
        if value in get_args(tp) and type(value) in {type(a) for a in get_args(tp)}:
            return value
        raise _type_error(path, tp, value)
    if dataclasses.is_dataclass(tp):
        return _check_dataclass(tp, value, path)  # type: ignore[arg-type]
    if origin is dict or tp is dict:
        key_tp, val_tp = get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            raise _type_error(path, tp, value)
        return {
            _check_value(k, key_tp, path): _check_value(v, val_tp, _join(path, k)) for k, v in value.items()
        }
    if origin is list or tp is list:
        (item_tp,) = get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise _type_error(path, tp, value)
        return [_check_value(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _type_error(path, tp, value)
    if tp in (int, bool, str):
        if type(value) is tp:  # exact: a bool is not an int
            return value
        raise _type_error(path, tp, value)
    raise TypeError(f"{path}: the options schema uses an unsupported type {tp!r}")


def _is_leaf(tp: Any) -> bool:
    return not (dataclasses.is_dataclass(tp) or get_origin(tp) in (dict, list))


def _check_component(value: Any, spec: str, path: str, supplied: Iterable[str] = ()) -> dict[str, Any]:
    """A ``{type: Name, **kwargs}`` section: ``type`` in the registry ``spec`` and the kwargs
    accepted by its constructor, less the ``supplied`` ones the builder passes itself. Values are
    passed through as YAML gave them."""
    from sr.registry import accepted_kwargs, check_kwarg_types, lookup

    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a mapping with a 'type' key, got {_show(value)}")
    registry = _registry(spec)
    if "type" not in value:
        raise ValueError(f"{path}: needs a 'type' key; choose one of {', '.join(sorted(registry))}")
    factory = lookup(registry, value["type"], f"{path}.type")
    names, var_kw = accepted_kwargs(factory)
    names = [n for n in names if n not in supplied]
    for key in value:
        if not isinstance(key, str):
            raise ValueError(f"{path}: keys must be strings, got {_show(key)}")
        if key != "type" and (key in supplied or not (var_kw or key in names)):
            raise _unknown_key(path, key, [*names, "type"])
    check_kwarg_types(factory, {k: v for k, v in value.items() if k != "type"}, path)
    return dict(value)


def _check_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise _type_error(path, cls, data)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise _unknown_key(path, key, fields)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = _join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{path or 'top level'}: missing required key {name!r}")
            continue
        value = data[name]
        if "registry" in f.metadata and value is not None:
            # the shape now; the type and kwargs against the registry in _check_components
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise ValueError(f"{sub}: expected a mapping with a 'type' key, got {_show(value)}")
            kwargs[name] = dict(value)
        else:
            kwargs[name] = _check_value(value, hints[name], sub)
    return cls(**kwargs)


def _check_components(obj: Any, path: str) -> None:
    """Check every ``{type: Name, **kwargs}`` section of the typed options against its registry."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_components(value, _join(path, key))
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if "registry" in f.metadata:
            if value is not None:
                _check_component(value, f.metadata["registry"], _join(path, f.name), f.metadata["supplied"])
        else:
            _check_components(value, _join(path, f.name))


# --- public entry points -----------------------------------------------------------------------------


def options_from_dict(data: Mapping[str, Any], source: str = "<dict>", require_train: bool = True) -> Options:
    """Validate a raw mapping into :class:`Options`; ``OptionsError`` prefixed with ``source``.
    ``require_train=False`` accepts options without ``datasets.train`` (evaluation only)."""
    try:
        # types and structure first, then the rules between keys, then the component sections
        # (which import their registries)
        opt = _check_dataclass(Options, dict(data), "")
        check_rules(opt, require_train)
        _check_components(opt, "")
    except ValueError as err:
        raise OptionsError(f"{source}: {err}") from None
    return opt


def load_options(path: str | Path, overrides: Iterable[str] = (), require_train: bool = True) -> Options:
    """Read, override (``["train.optim_g.lr=2e-4", ...]``) and validate the YAML recipe ``path``."""
    data = read_yaml(path)
    try:
        data = apply_overrides(data, overrides)
    except ValueError as err:
        raise OptionsError(f"{path}: {err}") from None
    return options_from_dict(data, str(path), require_train)


def dump_options(opt: Options) -> str:
    """``opt`` as YAML (schema order) that :func:`load_options` reads back to an equal ``Options``."""
    return yaml.dump(
        dataclasses.asdict(opt), Dumper=_Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True
    )
