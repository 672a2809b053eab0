"""Name -> class registries for the ``{type: Name, **kwargs}`` option sections.

One checker for every component kind (architectures, losses, datasets, optimizers, schedulers), so
that a wrong ``type`` or keyword reads the same everywhere: it names the section, the bad value and
the accepted ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any


def lookup(registry: Mapping[str, Any], name: object, where: str) -> Any:
    """``registry[name]``, or a ``ValueError`` naming ``where`` and the choices."""
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"{where}: unknown type {name!r}; choose one of {', '.join(sorted(registry))}")
    return registry[name]


def accepted_kwargs(factory: Callable[..., Any]) -> tuple[list[str], bool]:
    """The keyword names ``factory`` (a class or function) takes, and whether it takes ``**kwargs``."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(target).parameters
    names = [
        n
        for n, p in params.items()
        if n != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def check_kwargs(factory: Callable[..., Any], kwargs: Mapping[str, Any], where: str) -> None:
    """Raise ``ValueError`` naming the first key of ``kwargs`` that ``factory`` does not accept."""
    names, var_kw = accepted_kwargs(factory)
    if var_kw:
        return
    for key in kwargs:
        if key not in names:
            raise ValueError(f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(names))}")


def check_kwarg_types(factory: Callable[..., Any], kwargs: Mapping[str, Any], where: str) -> None:
    """Raise ``ValueError`` naming the first value whose type cannot be what the constructor's default
    says: a number where the default is a number (``lr: '1e-3'``, ``num_feat: "8"``; an int where
    it is an int), a bool where it is a bool. Parameters without such a default are left alone."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(target).parameters
    for key, value in kwargs.items():
        default = params[key].default if key in params else None
        if isinstance(default, bool):
            ok, wanted = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, wanted = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif isinstance(default, float):
            ok, wanted = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        else:
            continue
        if not ok:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ValueError(f"{where}.{key}: expected {wanted}, got {shown} ({type(value).__name__})")


def build_from(registry: Mapping[str, Any], opt: Mapping[str, Any], where: str, **extra: Any) -> Any:
    """Construct ``registry[opt['type']](**rest_of_opt, **extra)`` after checking names and keys."""
    if "type" not in opt:
        raise ValueError(f"{where}: needs a 'type' key; choose one of {', '.join(sorted(registry))}")
    factory = lookup(registry, opt["type"], f"{where}.type")
    kwargs = {k: v for k, v in opt.items() if k != "type"}
    check_kwargs(factory, kwargs, where)
    check_kwarg_types(factory, kwargs, where)
    return factory(**kwargs, **extra)
