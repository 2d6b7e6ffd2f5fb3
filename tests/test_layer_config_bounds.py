"""Hostile layer configs: every size a layer's config can ask for (Dense's units, the features a normalization
layer keeps statistics for, axes) is bounded, so a small JSON file cannot make gradfit allocate without bound;
each is refused as ``ModelFileError`` before any weight exists."""

from __future__ import annotations

import json

import pytest

import gradfit.keras as K
from gradfit.keras import layers as L
from gradfit.schema import ModelFileError


def _config():
    model = K.Sequential(
        [K.Input((4,)), L.Dense(3, "tanh"), L.BatchNormalization(), L.LayerNormalization(), L.Dense(1)]
    )
    return json.loads(model.to_json())


def _set(config, index, key, value):
    config["config"]["layers"][index]["config"][key] = value


CASES = {
    "units_over_the_dimension_cap": (lambda c: _set(c, 1, "units", 2**31), r"units: must be an integer in \[1, "),
    "units_over_the_output_cap": (lambda c: _set(c, 1, "units", 2**31 - 1), r"values per example"),
    "units_over_the_parameter_cap": (lambda c: _set(c, 4, "units", 2**25), r"parameters, more than"),
    "units_not_an_integer": (lambda c: _set(c, 1, "units", 3.5), r"units: must be an integer"),
    "units_a_bool": (lambda c: _set(c, 1, "units", True), r"units: must be an integer"),
    "input_features_over_the_cap": (lambda c: _set(c, 0, "batch_shape", [None, 2**30]), r"values per example"),
    "input_size_beyond_int32": (lambda c: _set(c, 0, "batch_shape", [None, 2**40]), r"positive integer"),
    "batch_norm_axis_out_of_range": (lambda c: _set(c, 2, "axis", 5), r"axis 5 is out of range"),
    "batch_norm_axis_huge": (lambda c: _set(c, 2, "axis", 10**12), r"axis: must be an integer"),
    "layer_norm_axis_list_too_long": (lambda c: _set(c, 3, "axis", list(range(100))), r"axis: must be an axis"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sizes_a_config_asks_for_are_bounded(name):
    mutate, pattern = CASES[name]
    config = _config()
    mutate(config)
    with pytest.raises(ModelFileError, match=pattern):
        K.models.model_from_json(json.dumps(config))
