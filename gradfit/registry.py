"""One table per kind of object: every layer, activation, loss, optimizer, metric, initializer, regularizer,
constraint, learning-rate schedule and callback declares itself here once, with its Keras name, aliases and module.

Everything that needs to know "which classes of this kind exist" derives from these tables: each module's
``get()``, the "did you mean …" suggestions, the safe loader's allow-list, serialization, and the error
messages that list the known names. A new class costs one decorator::

    @registry.LAYERS.register()                       # Keras name "Dense", module "keras.layers"
    class Dense(Layer): ...

    @registry.LOSSES.register(aliases=("bce", "binary_crossentropy"))
    class BinaryCrossentropy(Loss): ...

    relu = registry.ACTIVATIONS.register(Activation("relu", ...), name="relu")

Nothing here imports the modules that register: a registry holds what has been imported, and importing
``gradfit`` imports every built-in module.
"""

from __future__ import annotations

import difflib
import re

__all__ = [
    "ACTIVATIONS",
    "CALLBACKS",
    "CONSTRAINTS",
    "INITIALIZERS",
    "LAYERS",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "REGULARIZERS",
    "SCHEDULES",
    "Entry",
    "Registry",
    "all_registries",
    "snake_case",
]


def snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: ``Dense`` -> ``dense``, ``BatchNormalization`` -> ``batch_normalization``,
    ``SGD`` -> ``sgd``, ``RMSprop`` -> ``rm_sprop``... as Keras names layers and weight groups.

    The one name-normalising helper of gradfit: layer names, weight-group paths and the names of losses and
    metrics all come from it.
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name.lstrip("_") if not name.startswith("__") else name


class Entry:
    """One registered object: its canonical Keras name, the object, its aliases and its Keras module."""

    __slots__ = ("name", "obj", "aliases", "module", "public")

    def __init__(self, name: str, obj, aliases: tuple[str, ...], module: str, public: bool):
        self.name, self.obj, self.aliases, self.module, self.public = name, obj, aliases, module, public

    @property
    def keras_path(self) -> str:
        """``keras.layers.Dense``: where Keras keeps the same object."""
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<{self.keras_path}{' aka ' + ', '.join(self.aliases) if self.aliases else ''}>"


class Registry:
    """The objects of one kind (``"layer"``, ``"loss"`` …), by canonical name and by alias.

    Parameters
    ----------
    kind : str
        Singular noun used in messages: ``Unknown loss 'mse2'. Did you mean 'mse'?``.
    module : str
        The Keras module the objects live in (``keras.layers``), written into serialized configs.
    plural : str, optional
        Defaults to ``kind + "s"``.
    """

    def __init__(self, kind: str, module: str, plural: str | None = None):
        self.kind = kind
        self.module = module
        self.plural = plural or kind + "s"
        self._entries: dict[str, Entry] = {}
        self._lookup: dict[str, Entry] = {}
        self._by_id: dict[int, Entry] = {}

    # ------------------------------------------------------------------ declaring
    def register(self, obj=None, *, name: str | None = None, aliases=(), module: str | None = None, public=True):
        """Add ``obj`` (a class, or a function-like object) under ``name`` (default: its ``__name__``).

        Usable as ``@REGISTRY.register()`` / ``@REGISTRY.register`` on a class, or called with the object.
        ``public=False`` registers an object that is found by name (and allowed in files) but left out of the
        lists of known names shown to users (e.g. a base class Keras also accepts).
        Returns ``obj`` unchanged.
        """

        def add(target):
            key = name or getattr(target, "__name__", None)
            if not isinstance(key, str) or not key:
                raise TypeError(f"{self.kind} registry: {target!r} needs a name")
            if key in self._lookup and self._lookup[key].obj is not target:
                raise ValueError(f"{self.kind} registry: the name {key!r} is taken by {self._lookup[key].obj!r}")
            entry = Entry(key, target, tuple(aliases), module or self.module, public)
            for alias in (key, *entry.aliases):
                other = self._lookup.get(alias)
                if other is not None and other.obj is not target:
                    raise ValueError(f"{self.kind} registry: the name {alias!r} is taken by {other.obj!r}")
            self._entries[key] = entry
            for alias in (key, *entry.aliases):
                self._lookup[alias] = entry
            self._by_id[id(target)] = entry
            return target

        if obj is None:
            return add
        return add(obj)

    # ------------------------------------------------------------------ finding
    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._lookup

    def __iter__(self):
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, name: str):
        """The object registered under ``name`` (a canonical name or an alias), or None."""
        entry = self._lookup.get(name) if isinstance(name, str) else None
        return None if entry is None else entry.obj

    def entry(self, name_or_obj) -> Entry | None:
        """The entry of a name, an alias, or a registered object (None if there is none)."""
        if isinstance(name_or_obj, str):
            return self._lookup.get(name_or_obj)
        return self._by_id.get(id(name_or_obj))

    def entry_of_class(self, cls) -> Entry | None:
        """The entry of ``cls`` or of its nearest registered base class."""
        for klass in getattr(cls, "__mro__", (cls,)):
            entry = self._by_id.get(id(klass))
            if entry is not None:
                return entry
        return None

    def name_of(self, obj) -> str:
        """The canonical name of a registered object, or of the registered class of an instance."""
        entry = self._by_id.get(id(obj)) or self.entry_of_class(type(obj))
        if entry is None:
            raise KeyError(f"{obj!r} is not a registered {self.kind}")
        return entry.name

    def names(self, public_only: bool = True) -> list[str]:
        """Canonical names, sorted (the user-facing list in error messages)."""
        return sorted(e.name for e in self._entries.values() if e.public or not public_only)

    def all_names(self) -> list[str]:
        """Canonical names and aliases, sorted (what a file or ``get()`` may use)."""
        return sorted(self._lookup)

    def objects(self) -> list:
        return [e.obj for e in self._entries.values()]

    # ------------------------------------------------------------------ messages
    def suggestion(self, name: str) -> str | None:
        """The closest known name or alias to ``name``, if any is close."""
        if not isinstance(name, str):
            return None
        candidates = list(self._lookup)
        close = difflib.get_close_matches(name, candidates, n=1)
        if not close:
            lowered = {c.lower(): c for c in candidates}
            close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=1)]
        return close[0] if close else None

    def known(self) -> str:
        """``'a, b, c'``: the public canonical names, for messages."""
        return ", ".join(self.names())

    def unknown_message(self, name, extra: str = "") -> str:
        """``Unknown loss 'mse2'. Did you mean 'mse'? Known losses: …``."""
        close = self.suggestion(name)
        hint = f" Did you mean {close!r}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint}{extra} Known {self.plural}: {self.known()}."

    def require(self, name: str):
        """The object registered under ``name``; a ValueError with a suggestion if there is none."""
        obj = self.lookup(name)
        if obj is None:
            raise ValueError(self.unknown_message(name))
        return obj

    def __repr__(self) -> str:
        return f"<Registry of {len(self)} {self.plural} ({self.module})>"


LAYERS = Registry("layer", "keras.layers")
ACTIVATIONS = Registry("activation", "keras.activations")
LOSSES = Registry("loss", "keras.losses", plural="losses")
OPTIMIZERS = Registry("optimizer", "keras.optimizers")
METRICS = Registry("metric", "keras.metrics")
INITIALIZERS = Registry("initializer", "keras.initializers")
REGULARIZERS = Registry("regularizer", "keras.regularizers")
CONSTRAINTS = Registry("constraint", "keras.constraints")
SCHEDULES = Registry("learning-rate schedule", "keras.optimizers.schedules")
CALLBACKS = Registry("callback", "keras.callbacks")


def all_registries() -> dict[str, Registry]:
    """Every registry by its kind's plural (``"layers"``, ``"losses"`` …)."""
    return {
        "layers": LAYERS,
        "activations": ACTIVATIONS,
        "losses": LOSSES,
        "optimizers": OPTIMIZERS,
        "metrics": METRICS,
        "initializers": INITIALIZERS,
        "regularizers": REGULARIZERS,
        "constraints": CONSTRAINTS,
        "schedules": SCHEDULES,
        "callbacks": CALLBACKS,
    }
