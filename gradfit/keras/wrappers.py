"""``keras.wrappers``: scikit-learn estimators around a model (``gradfit/wrappers.py`` does the work).

Loaded on first use, so that ``import gradfit.keras`` does not import scikit-learn."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names, for readers and checkers; at run time __getattr__ loads them
    from ..wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


def __getattr__(name: str):
    if name in __all__:
        from .. import wrappers

        return getattr(wrappers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(list(globals()) + __all__)
