"""Reading Keras 3 layer configs: what ``get_config`` of a Keras layer holds that gradfit's constructors need
in a plainer form (the dtype is a ``DTypePolicy`` dict there, a name here)."""

from __future__ import annotations


def standardize_config(config: dict) -> dict:
    """A copy of ``config`` whose ``dtype`` is a plain name, whether it came from gradfit or from Keras 3."""
    config = dict(config)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):  # {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}}
        name = dtype.get("config", {}).get("name", dtype.get("name"))
        if name is not None and str(name).startswith("mixed_"):
            raise NotImplementedError(f"gradfit does not support mixed-precision dtype policies such as {name!r}.")
        config["dtype"] = name
    return config
