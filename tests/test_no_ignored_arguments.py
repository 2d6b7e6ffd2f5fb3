"""No Keras argument is accepted and ignored: every parameter of gradfit's public API is in exactly one table.

* ``IMPLEMENTED``: it has Keras 3.15's effect. The entry names the evidence: a test (``file::test``), a test or
  recording file (``file``) that exercises it, or ``quick:<name>``, a check in this file (``QUICK_CHECKS``).
  The evidence is checked to exist and to mention the parameter (or, for a positional one, the callable).
* ``REFUSED``: gradfit does not implement it; a non-default value raises (the call here is run and must raise an
  error whose message names the parameter or the value).
* ``NO_EFFECT``: Keras's own effect is nil for everything gradfit supports; the entry gives the reason (and the
  parameter's docstring says so).

The public parameters are enumerated, not listed: every registered class (``registry.all_registries()``), with
the base classes' keyword arguments (``Layer``, ``Optimizer``) and what ``config_schema`` lets through
``**kwargs``; the keyword options of the activations; the ``__call__`` / ``update_state`` of losses, metrics,
initializers, regularizers, constraints and schedules; ``Sequential``'s methods; and the functions of
``gradfit.keras.models``, ``saving``, ``utils``, ``backend``, ``losses``, ``metrics``, ``layers``, ``optimizers``,
``regularizers``, ``initializers``, ``constraints``. A parameter added later without an entry fails
``test_every_public_parameter_is_in_exactly_one_table``.
"""

from __future__ import annotations

import ast
import fnmatch
import inspect
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

import gradfit
import gradfit.keras as K
from gradfit import registry
from gradfit.layers.base import Layer
from gradfit.models import Sequential
from gradfit.optimizers.base import Optimizer

TESTS = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------- enumeration
def _params(fn) -> list[str]:
    """The names of ``fn``'s parameters (``**kwargs`` as ``"**kwargs"``; ``self`` and ``*args`` left out)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    out = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls") or p.kind is p.VAR_POSITIONAL:
            continue
        out.append("**" + p.name if p.kind is p.VAR_KEYWORD else p.name)
    return out


_SEQUENTIAL_METHODS = (
    "__init__ compile fit evaluate predict train_on_batch test_on_batch predict_on_batch summary save save_weights "
    "load_weights to_json get_config from_config build __call__ add pop get_layer set_weights get_weights "
    "compute_gradients explain activations export"
).split()
_MODULES = (
    K.models,
    K.saving,
    K.utils,
    K.backend,
    K.losses,
    K.metrics,
    K.layers,
    K.optimizers,
    K.regularizers,
    K.initializers,
    K.constraints,
)
_CALLED_KINDS = ("losses", "metrics", "initializers", "regularizers", "constraints", "schedules")


def _inherited(cls, method: str):
    for klass in cls.__mro__:
        if klass is not object and method in klass.__dict__:
            return klass.__dict__[method]
    return None


def public_parameters() -> dict[str, list[str]]:
    """``{"layers.Dense": ["units", …], "Sequential.fit": [...], "keras.saving.load_model": [...], …}``."""
    found: dict[str, list[str]] = {}
    layer_base = [p for p in _params(Layer.__init__) if not p.startswith("**")]
    layer_base += [p for p in Layer.config_schema.fields if p not in layer_base]
    optimizer_base = [p for p in _params(Optimizer.__init__) if not p.startswith("**")]
    seen: set[int] = set()
    for kind, reg in registry.all_registries().items():
        for entry in reg:
            obj = entry.obj
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if kind == "activations":
                options = getattr(obj, "options", None)
                allowed = inspect.getclosurevars(options).nonlocals.get("allowed", ()) if options else ()
                found[f"activations.{entry.name}"] = sorted(allowed)
                continue
            if not inspect.isclass(obj):
                continue
            params = [] if obj.__init__ is object.__init__ else _params(obj.__init__)
            schema = getattr(obj, "config_schema", None)
            if "**kwargs" in params and schema is not None:  # what the schema lets through **kwargs
                params += [p for p in schema.fields if p not in params + layer_base + optimizer_base]
            if issubclass(obj, Layer) and "**kwargs" in params:
                params = [p for p in params if p != "**kwargs"] + [p for p in layer_base if p not in params]
            if issubclass(obj, Optimizer) and "**kwargs" in params:
                params = [p for p in params if p != "**kwargs"] + [p for p in optimizer_base if p not in params]
            found[f"{kind}.{entry.name}"] = params
            if kind in _CALLED_KINDS:
                for method in ("__call__", "update_state"):
                    fn = _inherited(obj, method)
                    if fn is not None:
                        found[f"{kind}.{entry.name}.{method}"] = _params(fn)
    for name in _SEQUENTIAL_METHODS:
        found[f"Sequential.{name}"] = _params(getattr(Sequential, name))
    for module in _MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found[f"{module.__name__.removeprefix('gradfit.')}.{name}"] = _params(obj)
    return found


# ------------------------------------------------------------------------------------------- the tables
# Entries are {callable (or fnmatch pattern): {evidence: "param param …"}}; an exact name is looked up first.
IMPLEMENTED_SHARED = {
    "layers.*": {
        "test_models.py": "name input_dim",
        "test_layers_extra.py": "trainable",
        "test_initializers_bounds.py": "dtype",
        "test_saving.py": "input_shape batch_input_shape",
        "test_activity_regularizer.py": "activity_regularizer",
    },
    "optimizers.*": {
        "test_optimizers.py": "learning_rate clipnorm clipvalue global_clipnorm name",
        "test_optimizer_misuse.py": "weight_decay",
        "test_optimizers_ema.py": "use_ema ema_momentum ema_overwrite_frequency gradient_accumulation_steps",
    },
    "losses.*": {"test_losses_more.py": "reduction", "test_losses.py": "name"},
    "losses.*.__call__": {"test_losses.py": "y_true y_pred sample_weight"},
    "metrics.*": {"test_metrics.py": "name", "test_metrics_more.py": "dtype"},
    "metrics.*.__call__": {"test_metrics.py": "y_true y_pred sample_weight"},
    "metrics.*.update_state": {"test_metrics.py": "y_true y_pred sample_weight"},
    "keras.losses.*": {"quick:loss_functions_by_keyword": "y_true y_pred"},
    "schedules.*": {"test_schedules.py": "name"},
    "schedules.*.__call__": {"test_schedules.py": "step"},
    "initializers.*.__call__": {"test_initializers_bounds.py": "shape dtype"},
    "regularizers.*.__call__": {"test_activity_regularizer.py": "w"},
    "constraints.*.__call__": {"test_constraints.py": "w"},
    "keras.*.get": {"test_contracts.py": "identifier"},
    "keras.*.serialize": {"test_saving_schema.py": "initializer constraint regularizer optimizer loss"},
    "keras.*.deserialize": {"test_saving_schema.py": "config"},
}

IMPLEMENTED = {
    "layers.Activation": {
        "test_callable_activations.py::test_a_plain_function_is_refused_saying_how_to_give_its_derivative": (
            "activation"
        ),
    },
    "layers.ReLU": {
        "test_layers_extra.py::test_configured_activations_pickle_with_their_arguments": (
            "max_value negative_slope threshold"
        ),
    },
    "layers.LeakyReLU": {
        "test_layers_extra.py::test_leaky_relu_gradient": "negative_slope",
        "test_layers_extra.py::test_leaky_relu_values_and_default_slope": "alpha",
    },
    "layers.Softmax": {"test_layers_extra.py::test_softmax_gradient": "axis"},
    "layers.BatchNormalization": {
        "test_layers_extra.py::test_batch_normalization_axis1_normalises_per_channel": "axis epsilon",
        "test_layers_extra.py::test_batch_normalization_training_and_inference_formulas": "momentum",
        "test_layers_extra.py::test_batch_normalization_gradients": "center synchronized",
        "quick:batchnorm_initializers": (
            "beta_initializer gamma_initializer moving_mean_initializer moving_variance_initializer beta_regularizer"
        ),
        "test_layers_extra.py::test_batch_normalization_weights_in_keras_order": "scale",
        "test_layers_extra.py::test_batch_normalization_regularizer_adds_to_the_cost": "gamma_regularizer",
        "test_constraints.py::test_layers_take_constraints_and_declare_them_on_their_weights": "beta_constraint",
        "test_layers_extra.py::test_batch_normalization_rejects_unsupported_options": "gamma_constraint",
    },
    "layers.Dense": {
        "course/test_w1_neurons_and_layers.py::test_lab_preamble_does_not_break": "units",
        "test_dense.py::test_call_casts_integer_and_list_input": "activation",
        "test_parameters.py::test_a_layer_without_bias_can_still_set_its_own_attribute": "use_bias",
        "test_initializers_bounds.py::test_non_finite_initial_weights_are_refused_at_build": "kernel_initializer",
        "test_initializers_bounds.py::test_constant_beyond_float32_is_refused_for_the_bias_and_fine_in_float64": (
            "bias_initializer"
        ),
        "test_dense.py::test_layer_losses_report_the_penalties": "kernel_regularizer bias_regularizer",
        "test_training_semantics.py::test_constraints_are_applied_after_every_update": "kernel_constraint",
        "test_constraints.py::test_layers_take_constraints_and_declare_them_on_their_weights": "bias_constraint",
    },
    "layers.Dropout": {
        "test_layers_extra.py::test_dropout_training_zeros_about_rate_and_scales_the_rest": "rate",
        "test_layers_extra.py::test_dropout_noise_shape_broadcasts_the_mask": "noise_shape",
        "test_layers_extra.py::test_dropout_is_reproducible_with_set_random_seed": "seed",
    },
    "layers.Flatten": {"test_layers_extra.py::test_flatten_gradient": "data_format"},
    "layers.InputLayer": {
        "test_saving_schema.py": "shape",
        "saving_fixtures/check_in_keras.py": "batch_size",
        "test_saving.py::test_missing_optional_keys_take_keras_defaults": "batch_shape",
    },
    "layers.LayerNormalization": {
        "test_layers_new.py::test_layer_normalization_refuses_bad_axes_at_build": "axis",
        "test_layers_new.py::test_layer_normalization_formula_per_example": "epsilon",
        "test_parameters.py::test_a_weight_another_instance_declared_reads_none_where_this_one_has_none": "center",
        "test_layers_new.py::test_layer_normalization_gradients": "scale",
        "test_layers_new.py::test_keras_configs_are_accepted": "beta_initializer gamma_initializer beta_regularizer",
        "test_layers_new.py::test_check_gradients_on_a_model_with_every_new_layer": "gamma_regularizer",
        "test_constraints.py::test_layers_take_constraints_and_declare_them_on_their_weights": (
            "beta_constraint gamma_constraint"
        ),
        "test_layers_new.py::test_layer_normalization_axes_and_weight_shapes_as_keras": "rms_scaling",
    },
    "layers.GaussianNoise": {
        "test_layers_new.py::test_keras_configs_are_accepted": "stddev",
        "test_layers_new.py::test_gaussian_noise_statistics": "seed",
    },
    "layers.GaussianDropout": {"test_layers_new.py::test_gaussian_dropout_statistics": "rate seed"},
    "layers.Normalization": {
        "test_set_weights_atomic.py::test_integer_weights_take_whole_numbers_only": "axis",
        "test_normalization.py::test_given_mean_variance_and_invert": "mean variance invert",
    },
    "layers.Rescaling": {
        "test_layers_new.py::test_rescaling_whose_scale_cannot_broadcast_is_refused_at_build_and_load": "scale",
        "test_layers_new.py::test_rescaling_values_and_integer_inputs": "offset",
    },
    "activations.soft_shrink": {"test_activations.py::test_activation_options_come_from_each_function": "threshold"},
    "activations.relu": {
        "test_activations.py::test_relu_keyword_options": "max_value negative_slope",
        "test_advice.py::test_accuracy_with_threshold_zero_on_a_logits_output_is_fine": "threshold",
    },
    "activations.leaky_relu": {"test_activations.py::test_relu_keyword_options": "negative_slope"},
    "activations.elu": {"test_activations.py": "alpha"},
    "activations.softmax": {"test_layers_extra.py::test_configured_activations_pickle_with_their_arguments": "axis"},
    "activations.gelu": {"test_activations.py::test_gelu_is_exact_by_default": "approximate"},
    "activations.celu": {"test_activations.py::test_activation_options_come_from_each_function": "alpha"},
    "activations.squareplus": {"test_activations.py::test_activation_options_come_from_each_function": "b"},
    "activations.log_softmax": {"test_activations.py::test_mish_hard_silu_and_log_softmax_values": "axis"},
    "losses.BinaryCrossentropy": {
        "test_advice.py::test_accuracy_with_threshold_zero_on_a_logits_output_is_fine": "from_logits",
        "test_losses.py::test_bce_label_smoothing_moves_targets_toward_one_half": "label_smoothing",
        "test_layers_extra.py::test_activation_and_softmax_output_layers_are_fused_with_the_loss": "axis",
    },
    "losses.CategoricalCrossentropy": {
        "test_advice.py::test_one_hot_targets_for_the_sparse_loss_are_refused_with_the_loss_to_use": "from_logits",
        "test_losses.py::test_categorical_crossentropy_from_logits_and_smoothing": "label_smoothing",
        "test_layers_extra.py::test_softmax_over_another_axis_is_not_fused": "axis",
    },
    "losses.SparseCategoricalCrossentropy": {
        "course/test_w2_relu_softmax.py::test_loss_results_have_numpy": "from_logits",
        "test_losses_more.py::test_ignore_class_keeps_refusing_other_bad_labels": "ignore_class",
        "test_training.py::test_class_weight_with_sparse_labels": "axis",
    },
    "losses.BinaryFocalCrossentropy": {
        "parity/record_losses.py": "apply_class_balancing",
        "test_losses.py::test_constructors_validate_through_the_schema": "alpha label_smoothing",
        "test_losses.py::test_losses_and_their_functions_pickle": "gamma",
        "test_losses.py::test_binary_focal_crossentropy_with_gamma_0_is_binary_crossentropy": "from_logits",
        "saving_fixtures/record_keras.py": "axis",
    },
    "losses.Huber": {"test_losses.py::test_huber_values": "delta"},
    "optimizers.Adadelta": {"optimizer_rules.py": "rho epsilon"},
    "optimizers.Adagrad": {"parity/record_optimizers.py": "initial_accumulator_value", "optimizer_rules.py": "epsilon"},
    "optimizers.Adam": {
        "test_optimizer_misuse.py::test_beta_1_just_below_1_trains": "beta_1",
        "optimizer_rules.py": "beta_2 epsilon",
        "test_optimizers.py::test_slots_read_as_keras_moments_after_each_step": "amsgrad",
    },
    "optimizers.AdamW": {"optimizer_rules.py": "beta_1 beta_2 epsilon", "test_optimizers.py": "amsgrad"},
    "optimizers.Adamax": {
        "test_optimizers_added.py": "beta_1",
        "test_optimizers_added.py::test_subnormal_slot_values_are_flushed": "beta_2",
        "optimizer_rules.py": "epsilon",
    },
    "optimizers.Ftrl": {
        "parity/record_optimizers.py": "learning_rate_power",
        "test_optimizers_added.py::test_slots_read_as_keras_values": "initial_accumulator_value",
        "test_optimizers_added.py::test_ftrl_l1_sets_weights_to_zero": "l1_regularization_strength",
        "test_optimizers_added.py::test_defaults_match_keras": (
            "l2_regularization_strength l2_shrinkage_regularization_strength beta"
        ),
    },
    "optimizers.Lion": {
        "test_optimizers_added.py::test_serialize_and_deserialize": "beta_1",
        "test_optimizers_added.py": "beta_2",
    },
    "optimizers.Nadam": {
        "test_optimizers_added.py::test_serialize_and_deserialize": "beta_1",
        "test_optimizers_added.py": "beta_2",
        "optimizer_rules.py": "epsilon",
    },
    "optimizers.RMSprop": {
        "test_inside_fit.py::test_explain_shows_the_real_shapes_formulas_cost_and_update": "rho",
        "test_optimizers.py::test_defaults_match_keras": "momentum",
        "optimizer_rules.py": "epsilon",
        "test_saving.py::test_save_weights_load_weights": "centered",
    },
    "optimizers.SGD": {
        "test_optimizers.py::test_invalid_learning_rate_is_refused": "momentum",
        "saving_fixtures/record_keras.py": "nesterov",
    },
    "metrics.MeanMetricWrapper": {
        "test_registry_metrics_callbacks.py::test_a_wrapped_loss_function_is_minimised_and_saved_by_name": "fn",
        "parity/record_metric_configs.py": "**kwargs",
    },
    "metrics.BinaryAccuracy": {
        "test_advice.py::test_accuracy_with_threshold_zero_on_a_logits_output_is_fine": "threshold",
    },
    "metrics.TopKCategoricalAccuracy": {
        "test_metrics.py::test_top_k_counts_ties_at_the_boundary_as_in_and_non_finite_rows_as_out": "k",
    },
    "metrics.SparseTopKCategoricalAccuracy": {"test_metrics.py::test_top_k_names_in_history": "k"},
    "metrics.Precision": {"test_metrics.py::test_config_round_trip": "thresholds top_k class_id"},
    "metrics.Recall": {"test_metrics.py::test_config_round_trip": "thresholds top_k class_id"},
    "metrics.AUC": {
        "test_metrics.py::test_config_round_trip": "num_thresholds thresholds",
        "test_metrics.py::test_auc_perfect_and_reversed_scores": "curve",
        "test_metrics.py::test_invalid_arguments": "summation_method num_labels",
        "test_metrics.py::test_reset_state_and_result_before_any_update": "multi_label",
        "test_metrics.py::test_auc_multi_label_averages_the_columns": "label_weights",
        "test_metrics.py::test_auc_from_logits_applies_a_sigmoid": "from_logits",
    },
    "metrics.FBetaScore": {
        "test_metrics_more.py::test_fscores_load_from_a_file_with_their_settings": "average",
        "test_metrics_more.py::test_fbeta_score_is_keras_s_docstring_example": "beta threshold",
    },
    "metrics.F1Score": {
        "test_metrics_more.py::test_fscores_load_from_a_file_with_their_settings": "average",
        "test_metrics_more.py::test_f1_score_is_keras_s_docstring_example": "threshold",
    },
    "metrics.R2Score": {
        "test_metrics_more.py::test_r2_score_arguments_are_refused": "class_aggregation num_regressors",
    },
    "initializers.Constant": {
        "test_initializers_bounds.py::test_constant_beyond_float32_is_refused_for_the_bias_and_fine_in_float64": (
            "value"
        ),
    },
    "initializers.RandomUniform": {
        "test_saving_schema.py::test_initializers_follow_keras_names": "minval maxval",
        "test_initializers_bounds.py::test_seeds_are_non_negative_integers": "seed",
    },
    "initializers.RandomNormal": {
        "saving_fixtures/check_in_keras.py": "mean",
        "test_saving_schema.py::test_initializers_follow_keras_names": "stddev",
        "test_initializers_bounds.py::test_a_subclass_writing_its_own_sample_is_still_used": "seed",
    },
    "initializers.GlorotUniform": {
        "test_saving_hostile.py::test_a_negative_initializer_seed_is_refused_naming_it": "seed",
    },
    "initializers.GlorotNormal": {"test_initializers_bounds.py": "seed"},
    "initializers.HeNormal": {"test_initializers_bounds.py::test_seeds_are_non_negative_integers": "seed"},
    "regularizers.L1L2": {
        "test_activity_regularizer.py::test_forward_stores_the_penalty_of_the_output_divided_by_the_batch_size": (
            "l1 l2"
        ),
    },
    "regularizers.L1": {"test_saving_schema.py::test_regularizers_are_keras_3s": "l1"},
    "regularizers.L2": {"course/test_w2_relu_softmax.py::test_multiclass_lab_two_relu_units": "l2"},
    "constraints.MaxNorm": {"test_constraints.py::test_keras_defaults_and_configs": "max_value axis"},
    "constraints.UnitNorm": {"test_constraints.py::test_keras_defaults_and_configs": "axis"},
    "constraints.MinMaxNorm": {
        "test_constraints.py::test_keras_defaults_and_configs": "min_value max_value",
        "test_constraints.py::test_saved_and_loaded_with_the_model": "rate axis",
    },
    "schedules.ExponentialDecay": {
        "test_schedules.py::test_keras_config_names": "initial_learning_rate",
        "test_optimizers_added.py::test_serialize_and_deserialize": "decay_steps decay_rate",
        "test_schedules.py::test_exponential_decay": "staircase",
    },
    "schedules.PiecewiseConstantDecay": {"parity/callback_cases.py": "boundaries", "test_callbacks.py": "values"},
    "schedules.PolynomialDecay": {
        "test_schedules.py": "initial_learning_rate decay_steps",
        "test_schedules.py::test_polynomial_and_inverse_time_decay": "end_learning_rate power cycle",
    },
    "schedules.InverseTimeDecay": {
        "test_schedules.py": "initial_learning_rate decay_steps decay_rate",
        "test_schedules.py::test_polynomial_and_inverse_time_decay": "staircase",
    },
    "schedules.CosineDecay": {
        "test_schedules.py::test_keras_config_names": "initial_learning_rate decay_steps",
        "test_schedules.py::test_cosine_decay": "alpha",
        "test_schedules.py::test_cosine_decay_with_warmup": "warmup_target warmup_steps",
    },
    "schedules.CosineDecayRestarts": {
        "test_schedules.py": "initial_learning_rate",
        "test_schedules.py::test_cosine_decay_restarts": "t_mul m_mul alpha",
    },
    "callbacks.CallbackList": {"test_registry_metrics_callbacks.py": "callbacks model params"},
    "callbacks.LearningRateScheduler": {
        "test_callbacks.py::test_learning_rate_scheduler_errors": "schedule",
        "test_callbacks.py::test_learning_rate_scheduler_errors_inside_the_schedule_propagate": "verbose",
    },
    "callbacks.EarlyStopping": {
        "test_training_semantics.py::test_a_single_callback_is_taken_as_keras_takes_it": (
            "monitor min_delta patience verbose"
        ),
        "test_callbacks.py::test_early_stopping_auto_mode_unknown_direction_raises": "mode",
        "test_callbacks.py::test_early_stopping_refuses_bad_start_from_epoch_and_baseline": "baseline start_from_epoch",
        "test_callbacks.py::test_early_stopping_verbose_messages": "restore_best_weights",
    },
    "callbacks.ReduceLROnPlateau": {
        "test_callbacks.py::test_csv_logger_separator_append_and_learning_rate": "monitor",
        "test_callbacks.py::test_reduce_lr_min_lr_reached_does_not_restart_the_cooldown": (
            "factor patience cooldown min_lr"
        ),
        "test_callbacks.py::test_reduce_lr_on_plateau": "verbose",
        "test_callbacks.py": "mode",
        "parity/record_callbacks.py": "min_delta",
    },
    "callbacks.ModelCheckpoint": {
        "parity/record_callbacks_more.py": "filepath",
        "course/test_training_loop.py::test_model_checkpoint_save_best_only_writes_the_best_model": "monitor",
        "test_callbacks.py::test_checkpoint_missing_format_field": "verbose",
        "test_callbacks.py::test_checkpoint_save_best_only_without_the_monitor_saves_and_warns": "save_best_only",
        "test_callbacks.py::test_checkpoint_formats_the_filepath_every_epoch": "save_weights_only",
        "test_callbacks.py::test_checkpoint_mode_max_and_initial_value_threshold": "mode initial_value_threshold",
        "test_callbacks.py::test_checkpoint_every_n_batches": "save_freq",
    },
    "callbacks.TerminateOnNaN": {"test_callbacks.py::test_terminate_on_nan_raise_error": "raise_error"},
    "callbacks.LivePlot": {
        "test_liveplot.py::test_without_validation_there_are_no_val_curves_and_metrics_choose_the_panels": "metrics",
        "test_liveplot.py::test_the_png_is_written_every_n_epochs_and_after_the_last": "every path",
        "test_liveplot.py::test_display_false_never_displays_and_path_writes_in_a_notebook": "display",
        "test_liveplot.py::test_the_decision_boundary_panel_is_what_the_model_predicts_and_changes_as_it_learns": (
            "decision_boundary resolution"
        ),
    },
    "callbacks.TensorBoard": {
        "test_tensorboard.py::test_epoch_scalars_are_the_history_with_keras_s_tags_and_steps": "log_dir",
        "test_tensorboard.py::test_weight_gradient_and_activation_histograms_every_histogram_freq_epochs": (
            "histogram_freq sample_data"
        ),
        "test_tensorboard.py::test_write_graph_false_writes_no_graph_and_no_text": "write_graph",
        "test_tensorboard.py::test_weights_as_images_when_asked_as_keras_draws_them": "write_images",
        "test_tensorboard.py::test_batch_scalars_every_n_batches": "update_freq write_steps_per_second",
        "test_tensorboard.py::test_the_decision_boundary_every_few_epochs_for_two_features": "decision_boundary_freq",
    },
    "callbacks.CSVLogger": {
        "parity/record_callbacks_more.py": "filename",
        "test_callbacks.py::test_csv_logger_separator_append_and_learning_rate": "separator append",
    },
    "callbacks.LambdaCallback": {
        "test_callbacks.py::test_lambda_callback_hooks_get_the_right_epochs_and_batches": (
            "on_epoch_begin on_train_batch_begin"
        ),
        "test_callbacks.py::test_lambda_callback_other_hooks_and_errors": "on_epoch_end",
        "test_callbacks.py::test_stop_training_from_on_train_begin_still_runs_one_batch": "on_train_begin",
        "test_callbacks.py::test_terminate_on_nan_raise_error": "on_train_end",
        "test_callbacks.py::test_terminate_on_nan_stops_after_the_first_bad_batch": "on_train_batch_end",
        "parity/record_callbacks_more.py": "**kwargs",
    },
    "Sequential.__init__": {
        "test_models.py::test_add_pop_layers_get_layer": "layers",
        "test_constraints.py::test_a_frozen_layer_s_constraint_is_not_applied": "trainable",
        "course/test_notebook_compat.py::test_layer_weights_read_first_through_model_layers_carry_the_model_path": (
            "name"
        ),
    },
    "Sequential.compile": {
        "test_optimizers.py::test_compile_with_a_name_resolves_the_optimizer": "optimizer",
        "test_training_semantics.py::test_bad_loss_weights_are_refused_at_compile": "loss loss_weights",
        "test_metrics.py::test_unknown_name_suggests_the_closest": "metrics",
        "parity/record_training_semantics.py": "weighted_metrics",
    },
    "Sequential.fit": {
        "test_errors.py::test_bad_validation_data_leaves_an_unbuilt_model_unbuilt": "x",
        "test_training_misuse.py::test_class_weight_key_of_10_to_the_12_does_not_allocate_a_table": "y class_weight",
        "test_errors.py::test_numpy_integers_are_fine_for_epochs_and_batch_size": "batch_size",
        "test_callbacks.py::test_terminate_on_nan_leaves_finite_training_alone": "epochs verbose callbacks",
        "test_training_semantics.py::test_validation_freq_as_a_list_names_the_epochs": (
            "validation_split validation_freq"
        ),
        "test_errors.py::test_validation_data_of_wrong_shape": "validation_data",
        "test_training_semantics.py::test_a_class_missing_from_class_weight_weighs_one": "shuffle",
        "test_errors.py::test_bad_sample_weight": "sample_weight",
        "test_callbacks.py::test_learning_rate_scheduler_gets_the_current_rate": "initial_epoch",
        "parity/training_semantics_cases.py": "steps_per_epoch",
        "test_training_semantics.py::test_validation_steps_restart_the_validation_data_every_epoch": "validation_steps",
    },
    "Sequential.evaluate": {
        "test_callable_activations.py::test_a_softmax_layer_as_the_output_activation_is_fused_with_the_cross_entropy": (
            "x"
        ),
        "test_dense.py::test_evaluate_reports_the_cost_with_penalties": "y verbose",
        "test_training_semantics.py::test_class_weights_weight_the_training_part_of_a_validation_split_only": (
            "batch_size"
        ),
        "test_training_semantics.py::test_weighted_metrics_take_the_sample_weights_and_plain_metrics_do_not": (
            "sample_weight return_dict"
        ),
        "test_training_semantics.py::test_predict_and_evaluate_with_steps_use_only_those_batches": "steps",
        "course/test_training_loop.py::test_model_checkpoint_save_best_only_writes_the_best_model": "callbacks",
    },
    "Sequential.predict": {
        "test_errors.py::test_nan_in_x_for_predict": "x",
        "test_training_semantics.py::test_predict_and_evaluate_with_steps_use_only_those_batches": "batch_size steps",
        "test_errors.py::test_predict_does_not_need_compile": "verbose",
        "test_training_semantics.py::test_predict_calls_keras_predict_hooks": "callbacks",
    },
    "Sequential.activations": {
        "test_model_activations.py::test_each_entry_is_the_layer_s_output_of_a_manual_forward_pass": "x",
        "test_model_activations.py::test_the_last_entry_is_predict_s_result_for_any_batch_size": "batch_size",
        "test_model_activations.py::test_training_true_runs_the_layers_as_fit_does": "training",
    },
    "Sequential.train_on_batch": {
        "test_dense.py::test_fit_uses_the_fused_logits_path_for_a_saturated_sigmoid": "x",
        "test_training_misuse.py::test_train_on_batch_refuses_class_weight_with_sample_weight": (
            "y sample_weight class_weight"
        ),
        "test_models.py::test_train_test_predict_on_batch": "return_dict",
    },
    "Sequential.test_on_batch": {
        "parity/test_training_semantics_parity.py::test_cross_entropy_through_trailing_layers": "x",
        "test_training_semantics.py::test_a_model_ending_in_a_layer_without_activation_trains_evaluates_and_predicts": (
            "y"
        ),
        "test_training_misuse.py": "sample_weight",
        "test_models.py::test_train_test_predict_on_batch": "return_dict",
    },
    "Sequential.predict_on_batch": {"test_training_misuse.py": "x"},
    "Sequential.summary": {
        "course/test_printing.py::test_summary_line_length_argument": "line_length",
        "course/test_printing.py::test_summary_print_fn_gets_the_whole_text_at_once": "print_fn",
        "course/test_printing.py::test_summary_show_trainable": "show_trainable",
        "course/test_printing.py::test_summary_layer_range": "layer_range",
    },
    "Sequential.save": {
        "parity/record_callbacks_more.py": "filepath",
        "test_saving.py::test_overwrite_false_and_suffix_rules": "overwrite",
    },
    "Sequential.save_weights": {
        "saving_fixtures/check_in_keras.py": "filepath",
        "test_saving.py::test_overwrite_false_and_suffix_rules": "overwrite",
    },
    "Sequential.load_weights": {
        "parity/record_callbacks_more.py": "filepath",
        "test_saving_hostile.py::test_skip_mismatch_skips_a_non_finite_layer_and_loads_the_rest": "skip_mismatch",
    },
    "Sequential.to_json": {"test_layers_new.py": "**kwargs"},
    "Sequential.from_config": {"test_layers_extra.py::test_config_round_trip": "config"},
    "Sequential.build": {
        "course/test_w1_digits_binary.py::test_weights_are_empty_until_the_input_size_is_known": "input_shape",
    },
    "Sequential.__call__": {"parity/record_printing.py": "x", "parity/record_constraints.py": "training"},
    "Sequential.add": {"test_parameters.py": "layer"},
    "Sequential.get_layer": {"test_models.py::test_add_pop_layers_get_layer": "name index"},
    "Sequential.set_weights": {
        "test_set_weights_atomic.py::test_model_set_weights_refuses_a_ragged_list_naming_the_weight": "weights",
        "test_set_weights_atomic.py::test_valid_weights_still_assign_and_restoring_the_models_own_nan_still_works": (
            "check_finite"
        ),
    },
    "Sequential.compute_gradients": {
        "test_training.py::test_the_step_divides_as_the_loss_reduction_says": "x sample_weight",
        "test_activity_regularizer.py::test_evaluate_and_fit_report_the_penalty_in_the_loss": "y",
    },
    "Sequential.explain": {"test_contracts.py::test_optimizer_explained": "print_fn"},
    "Sequential.export": {
        "test_export_onnx.py::test_opset_names_and_shapes": "filepath format",
        "test_export_onnx.py::test_verbose_false_prints_nothing": "verbose",
        "test_export_onnx.py::test_input_signature_fixes_the_batch_and_names_the_input": "input_signature",
        "test_export_onnx.py::test_layer_normalization_is_the_opset_s_op_from_17_and_decomposed_before": "**kwargs",
    },
    "keras.models.load_model": {
        "parity/record_callbacks_more.py": "filepath",
        "test_saving.py::test_compile_false": "compile",
    },
    "keras.models.model_from_json": {"test_layer_config_bounds.py": "json_string"},
    "keras.models.save_model": {"parity/record_optimizers.py": "model filepath"},
    "keras.saving.load_model": {
        "parity/record_callbacks_more.py": "filepath",
        "test_saving.py::test_compile_false": "compile",
    },
    "keras.saving.load_weights": {
        "test_saving_hostile.py::test_skip_mismatch_skips_a_non_finite_layer_and_loads_the_rest": "model skip_mismatch",
        "parity/record_callbacks_more.py": "filepath",
    },
    "keras.saving.save_model": {"parity/record_optimizers.py": "model filepath"},
    "keras.saving.save_weights": {
        "test_callbacks.py::test_checkpoint_formats_the_filepath_every_epoch": "model",
        "saving_fixtures/check_in_keras.py": "filepath",
        "test_saving.py::test_overwrite_false_and_suffix_rules": "overwrite",
    },
    "keras.utils.set_random_seed": {"test_layers_extra.py::test_dropout_is_reproducible_with_set_random_seed": "seed"},
    "keras.utils.to_categorical": {"test_keras_utils.py::test_to_categorical_matches_keras": "x num_classes"},
    "keras.utils.normalize": {"test_keras_utils.py::test_normalize_arrays_match_keras": "x axis order"},
    "keras.utils.split_dataset": {
        "test_keras_utils.py::test_split_dataset_matches_keras": "dataset left_size right_size shuffle seed"
    },
    "keras.backend.set_epsilon": {"conftest.py": "value"},
    "keras.backend.set_floatx": {"test_saving.py": "value"},
    "keras.losses.binary_crossentropy": {
        "test_losses.py::test_binary_focal_crossentropy_with_gamma_0_is_binary_crossentropy": "from_logits",
        "saving_fixtures/record_keras.py": "label_smoothing",
        "test_inside_fit.py::test_compute_gradients_matches_a_hand_written_backprop": "axis",
    },
    "keras.losses.binary_focal_crossentropy": {
        "test_losses.py": "alpha label_smoothing axis",
        "test_losses.py::test_binary_focal_crossentropy_with_gamma_0_is_binary_crossentropy": "gamma from_logits",
    },
    "keras.losses.categorical_crossentropy": {
        "saving_fixtures/check_in_keras.py": "from_logits",
        "saving_fixtures/record_keras.py": "label_smoothing",
        "test_metrics_more.py": "axis",
    },
    "keras.losses.huber": {"test_losses.py::test_huber_values": "delta"},
    "keras.losses.sparse_categorical_crossentropy": {
        "test_losses.py::test_get_accepts_objects_classes_and_functions": "from_logits",
        "test_losses_more.py::test_ignore_class_averages_over_the_counted_examples_only": "ignore_class",
        "test_callable_activations.py": "axis",
    },
    "keras.metrics.get": {"test_layers_extra.py": "output_shape"},
    "keras.layers.Input": {
        "test_models.py::test_input_then_add": "shape",
        "course/test_training_loop.py::test_predict_bar_reports_the_time_the_steps_took": "batch_size",
        "course/test_printing.py::test_a_layer_built_before_the_model_keeps_its_own_path": "dtype",
        "course/test_notebook_compat.py::test_layer_weights_read_first_through_model_layers_carry_the_model_path": (
            "name"
        ),
        "parity/test_metrics_parity.py::test_fit_history_and_evaluate_match_keras": "**kwargs",
    },
}

#: parameters whose evidence is in this file (the tests and quick checks below)
IMPLEMENTED_HERE = {
    "Sequential.compile": {
        "test_no_ignored_arguments.py::test_steps_per_execution_groups_the_batch_callbacks": ("steps_per_execution")
    },
    "Sequential.fit": {"quick:validation_batch_size": "validation_batch_size"},
    "Sequential.summary": {"quick:summary_positions": "positions"},
    "callbacks.ProgbarLogger": {"quick:progbar_stream": "stream verbose"},
    "activations.hard_shrink": {"quick:hard_shrink_threshold": "threshold"},
    "metrics.Mean.update_state": {"quick:mean_values": "values"},
    "initializers.HeUniform": {"quick:initializer_seeds": "seed"},
    "initializers.LecunUniform": {"quick:initializer_seeds": "seed"},
    "initializers.LecunNormal": {"quick:initializer_seeds": "seed"},
    "schedules.CosineDecayRestarts": {"quick:first_decay_steps": "first_decay_steps"},
    "keras.models.save_model": {"quick:save_model_overwrite": "overwrite"},
    "keras.saving.save_model": {"quick:save_model_overwrite": "overwrite"},
    "keras.losses.binary_focal_crossentropy": {"quick:focal_class_balancing": "apply_class_balancing"},
    "keras.metrics.get": {"quick:metrics_get_shapes": "y_shape"},
    "keras.initializers.initial_value": {"quick:initial_value": "initializer shape dtype layer weight out"},
}


def _model(compiled: bool = True, **compile_kwargs) -> Sequential:
    model = Sequential([K.Input((3,)), K.layers.Dense(2, activation="relu"), K.layers.Dense(1)])
    if compiled:
        model.compile(optimizer="sgd", loss="mse", **compile_kwargs)
    return model


def _refusing_optimizers() -> dict:
    """``loss_scale_factor`` (Keras's loss scaling, for mixed precision) is refused by every optimizer."""
    return {
        (f"optimizers.{entry.name}", "loss_scale_factor"): (
            lambda cls=entry.obj: cls(loss_scale_factor=2.0),
            NotImplementedError,
        )
        for entry in registry.OPTIMIZERS
    }


L = K.layers
REFUSED = {
    ("layers.Dense", "lora_rank"): (lambda: L.Dense(1, lora_rank=2), NotImplementedError),
    ("layers.Dense", "lora_alpha"): (lambda: L.Dense(1, lora_alpha=2.0), NotImplementedError),
    ("layers.Dense", "quantization_config"): (lambda: L.Dense(1, quantization_config={}), NotImplementedError),
    ("layers.InputLayer", "sparse"): (lambda: L.InputLayer(shape=(2,), sparse=True), NotImplementedError),
    ("layers.InputLayer", "ragged"): (lambda: L.InputLayer(shape=(2,), ragged=True), NotImplementedError),
    ("layers.InputLayer", "input_tensor"): (lambda: L.InputLayer(shape=(2,), input_tensor=1), NotImplementedError),
    ("layers.InputLayer", "optional"): (lambda: L.InputLayer(shape=(2,), optional=True), NotImplementedError),
    ("layers.BatchNormalization", "renorm"): (lambda: L.BatchNormalization(renorm=True), NotImplementedError),
    ("layers.BatchNormalization", "renorm_clipping"): (
        lambda: L.BatchNormalization(renorm_clipping={"rmax": 3.0}),
        NotImplementedError,
    ),
    **_refusing_optimizers(),
    ("Sequential.save", "zipped"): (lambda: _model().save("m.keras", zipped=False), ValueError),
    ("Sequential.save", "**kwargs"): (lambda: _model().save("m.keras", include_optimizer=False), TypeError),
    ("Sequential.save_weights", "max_shard_size"): (
        lambda: _model().save_weights("m.weights.h5", max_shard_size=1),
        NotImplementedError,
    ),
    ("Sequential.load_weights", "**kwargs"): (lambda: _model().load_weights("m.weights.h5", by_name=True), TypeError),
    ("Sequential.from_config", "custom_objects"): (
        lambda: Sequential.from_config(_model().get_config(), custom_objects={"f": abs}),
        ValueError,
    ),
    ("keras.models.save_model", "zipped"): (lambda: K.models.save_model(_model(), "m.keras", zipped=False), ValueError),
    ("keras.saving.save_model", "zipped"): (lambda: K.saving.save_model(_model(), "m.keras", zipped=False), ValueError),
    ("keras.models.save_model", "**kwargs"): (
        lambda: K.models.save_model(_model(), "m.keras", include_optimizer=False),
        TypeError,
    ),
    ("keras.saving.save_model", "**kwargs"): (
        lambda: K.saving.save_model(_model(), "m.keras", include_optimizer=False),
        TypeError,
    ),
    ("keras.saving.save_weights", "max_shard_size"): (
        lambda: K.saving.save_weights(_model(), "m.weights.h5", max_shard_size=1),
        NotImplementedError,
    ),
    ("keras.models.load_model", "custom_objects"): (
        lambda: K.models.load_model("m.keras", custom_objects={"f": abs}),
        ValueError,
    ),
    ("keras.saving.load_model", "custom_objects"): (
        lambda: K.saving.load_model("m.keras", custom_objects={"f": abs}),
        ValueError,
    ),
    ("keras.utils.split_dataset", "preferred_backend"): (
        lambda: K.utils.split_dataset(np.zeros((4, 2)), 1, preferred_backend="torch"),
        ValueError,
    ),
    ("keras.models.model_from_json", "custom_objects"): (
        lambda: K.models.model_from_json(_model().to_json(), custom_objects={"f": abs}),
        ValueError,
    ),
    ("callbacks.TensorBoard", "profile_batch"): (lambda: K.callbacks.TensorBoard(profile_batch=2), ValueError),
    ("callbacks.TensorBoard", "embeddings_freq"): (
        lambda: K.callbacks.TensorBoard(embeddings_freq=1),
        NotImplementedError,
    ),
    ("callbacks.TensorBoard", "embeddings_metadata"): (
        lambda: K.callbacks.TensorBoard(embeddings_metadata="meta.tsv"),
        NotImplementedError,
    ),
}

_AUTOCAST = (
    "Keras's autocast scope acts only under a mixed dtype policy ('mixed_float16', refused by every layer), and the "
    "data reach every layer in the model's float type (Keras's data adapter casts arrays to floatx()); Layer's "
    "docstring says so"
)
NO_EFFECT = {
    ("layers.*", "autocast"): _AUTOCAST,
    ("layers.BatchNormalization", "renorm_momentum"): "Keras reads it only with renorm=True, which gradfit refuses",
    ("Sequential.compile", "run_eagerly"): (
        "how Keras runs a step (eagerly or as a tf.function); the results are the same, and gradfit always runs "
        "NumPy eagerly. Checked (True/False) and kept as model.run_eagerly; compile's docstring says so"
    ),
    ("Sequential.compile", "jit_compile"): (
        "whether Keras compiles the step with XLA; the results are the same up to XLA's fusions, and Keras resolves "
        "'auto' to False on a CPU-only machine. Checked and kept as model.jit_compile; compile's docstring says so"
    ),
    ("Sequential.compile", "auto_scale_loss"): (
        "Keras wraps the optimizer in a LossScaleOptimizer only under the 'mixed_float16' policy, which gradfit "
        "refuses; compile's docstring says so"
    ),
    ("Sequential.summary", "expand_nested"): (
        "it only expands nested models, and a gradfit Sequential holds only gradfit's own layers; summary's "
        "docstring says so"
    ),
    ("keras.*.load_model", "safe_mode"): (
        "safe_mode=False lets Keras deserialize Lambda layers and other code; gradfit's loader never runs code, so "
        "for every layer gradfit can load the two values give the same model (a Lambda is refused either way)"
    ),
}


# ------------------------------------------------------------------------------------------- lookups
def _matches(table_key: str, callable_name: str) -> bool:
    return table_key == callable_name or ("*" in table_key and fnmatch.fnmatchcase(callable_name, table_key))


def _implemented_evidence(callable_name: str, param: str) -> list[str]:
    found = []
    for table in (IMPLEMENTED, IMPLEMENTED_HERE, IMPLEMENTED_SHARED):
        for key, by_evidence in table.items():
            if _matches(key, callable_name):
                found += [ev for ev, params in by_evidence.items() if param in params.split()]
    return found


def _in(table: dict, callable_name: str, param: str) -> bool:
    return any(p == param and _matches(key, callable_name) for key, p in table)


ALL = public_parameters()
PAIRS = sorted((c, p) for c, params in ALL.items() for p in params)


def test_every_public_parameter_is_in_exactly_one_table():
    missing, doubled = [], []
    for c, p in PAIRS:
        hits = [bool(_implemented_evidence(c, p)), _in(REFUSED, c, p), _in(NO_EFFECT, c, p)]
        if sum(hits) == 0:
            missing.append(f"{c}({p})")
        elif sum(hits) > 1:
            doubled.append(f"{c}({p})")
    assert not missing, (
        "parameters with no entry: implement each as Keras does and add it to IMPLEMENTED with its test, refuse "
        f"a non-default value (REFUSED), or explain why Keras's effect is nil (NO_EFFECT): {missing}"
    )
    assert not doubled, f"parameters in more than one table: {doubled}"


def test_the_tables_name_only_existing_parameters():
    stale = []
    for table in (IMPLEMENTED, IMPLEMENTED_HERE, IMPLEMENTED_SHARED):
        for key, by_evidence in table.items():
            for params in by_evidence.values():
                for p in params.split():
                    if not any(_matches(key, c) and p in ALL[c] for c in ALL):
                        stale.append(f"{key}({p})")
    for key, p in list(REFUSED) + list(NO_EFFECT):
        if not any(_matches(key, c) and p in ALL[c] for c in ALL):
            stale.append(f"{key}({p})")
    assert not stale, f"entries for parameters that do not exist (renamed or removed?): {stale}"


_SOURCES: dict[str, str] = {}


def _source(relative: str) -> str:
    if relative not in _SOURCES:
        path = TESTS / relative
        _SOURCES[relative] = path.read_text(encoding="utf-8") if path.is_file() else ""
    return _SOURCES[relative]


def _function_source(relative: str, name: str) -> str:
    """The test's source, its decorators (``parametrize`` lists) included."""
    text = _source(relative)
    for node in ast.walk(ast.parse(text)) if text else ():
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.splitlines()[first - 1 : node.end_lineno])
    return ""


def test_implemented_evidence_exists_and_mentions_the_parameter():
    problems = []
    for c, p in PAIRS:
        short = c.split(".")[-1] if not c.endswith(("__call__", "update_state")) else c.split(".")[-2]
        for evidence in _implemented_evidence(c, p):
            if evidence.startswith("quick:"):
                if evidence[len("quick:") :] not in QUICK_CHECKS:
                    problems.append(f"{c}({p}): no quick check {evidence!r}")
                continue
            file, _, function = evidence.partition("::")
            text = _function_source(file, function) if function else _source(file)
            if not text:
                problems.append(f"{c}({p}): {evidence} not found")
            elif not re.search(r"\b" + re.escape(p.lstrip("*")) + r"\b", text) and short.strip("_") not in text:
                problems.append(f"{c}({p}): {evidence} mentions neither {p!r} nor {short!r}")
    assert not problems, problems


@pytest.mark.parametrize("key", sorted(REFUSED), ids=lambda k: f"{k[0]}({k[1]})")
def test_refused_arguments_raise_a_clear_error(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _model().save("m.keras")  # a file to load for the loaders' refusals
    _model().save_weights("m.weights.h5")
    call, error = REFUSED[key]
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    param = key[1].lstrip("*")
    named = param in message or (param == "kwargs" and re.search(r"include_optimizer|by_name", message))
    assert named, f"{key}: the message does not name what is refused: {message}"


def test_mixed_precision_policies_are_refused_by_every_layer():
    needs = {
        "Dense": (1,),
        "Dropout": (0.5,),
        "GaussianNoise": (0.1,),
        "GaussianDropout": (0.1,),
        "Rescaling": (1.0,),
        "Activation": ("relu",),
    }
    for entry in registry.LAYERS:
        for policy in ("mixed_float16", "mixed_bfloat16"):
            kwargs = {"shape": (2,)} if entry.name == "InputLayer" else {}
            with pytest.raises(ValueError, match="mixed"):
                entry.obj(*needs.get(entry.name, ()), dtype=policy, **kwargs)


# ------------------------------------------------------------------------------------------- quick checks
def _validation_batch_size():
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    counts = []
    for size in (1, 2, 4):
        seen: list = []
        hook = K.callbacks.LambdaCallback(on_test_batch_end=lambda batch, logs, seen=seen: seen.append(batch))
        _model().fit(x, y, validation_data=(x, y), validation_batch_size=size, verbose=0, callbacks=[hook])
        counts.append(len(seen))
    assert counts == [4, 2, 1]


def _summary_positions():
    model, texts = _model(), []
    for positions in (None, [0.2, 0.5, 1.0]):
        model.summary(positions=positions, print_fn=texts.append)
    assert texts[0] != texts[1]


def _progbar_stream():
    """``stream`` gets the lines; ``verbose`` (gradfit's addition to Keras's ProgbarLogger()) picks bar or line."""
    texts = []
    for verbose in (1, 2):
        stream = io.StringIO()
        callbacks = [K.callbacks.ProgbarLogger(verbose, stream)]
        _model().fit(np.ones((4, 3)), np.ones((4, 1)), epochs=2, verbose=0, callbacks=callbacks)
        texts.append(stream.getvalue())
    assert all(t.startswith("Epoch 1/2\n") for t in texts) and "━" in texts[0] and "━" not in texts[1]


def _hard_shrink_threshold():
    x = np.array([0.3, -0.7])
    np.testing.assert_array_equal(K.activations.hard_shrink(x), [0.0, -0.7])
    np.testing.assert_array_equal(K.activations.hard_shrink(x, threshold=0.2), [0.3, -0.7])


def _mean_values():
    mean = K.metrics.Mean()
    mean.update_state(np.array([1.0, 3.0]))
    assert float(mean.result()) == 2.0


def _initializer_seeds():
    for cls in (K.initializers.HeUniform, K.initializers.LecunUniform, K.initializers.LecunNormal):
        a, b, c = cls(seed=1)((4, 4)), cls(seed=1)((4, 4)), cls(seed=2)((4, 4))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def _first_decay_steps():
    schedules = K.optimizers.schedules
    short, long = schedules.CosineDecayRestarts(1.0, 10), schedules.CosineDecayRestarts(1.0, 20)
    assert float(short(5)) != float(long(5))


def _save_model_overwrite(tmp_path=None):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        for save in (K.models.save_model, K.saving.save_model):
            save(_model(), path)
            save(_model(), path, overwrite=True)
            with pytest.raises((FileExistsError, ValueError)):
                save(_model(), path, overwrite=False)


def _focal_class_balancing():
    y, p = np.array([[1.0], [0.0]]), np.array([[0.6], [0.3]])
    plain = K.losses.binary_focal_crossentropy(y, p)
    balanced = K.losses.binary_focal_crossentropy(y, p, apply_class_balancing=True)
    assert not np.allclose(plain, balanced)


def _metrics_get_shapes():
    assert type(K.metrics.get("accuracy", y_shape=(None, 1), output_shape=(None, 1))).__name__ == "BinaryAccuracy"
    sparse = K.metrics.get("accuracy", y_shape=(None,), output_shape=(None, 3))
    assert type(sparse).__name__ == "SparseCategoricalAccuracy"


def _initial_value():
    out = np.empty((2, 2), "float32")
    value = K.initializers.initial_value(K.initializers.Ones(), (2, 2), "float32", layer="d", weight="kernel", out=out)
    np.testing.assert_array_equal(out, np.ones((2, 2)))
    assert value.dtype == np.float32
    with pytest.raises(ValueError, match="'d'.*'kernel'"):
        K.initializers.initial_value(
            K.initializers.RandomNormal(stddev=1e300), (2,), "float32", layer="d", weight="kernel"
        )


def _loss_functions_by_keyword():
    """Every loss function takes ``y_true`` and ``y_pred`` by keyword, with the positional call's result (what
    they compute is checked against Keras in tests/parity/test_losses_parity.py)."""
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.7, 0.3], [0.4, 0.6]])
    for name in K.losses.__all__:
        fn = getattr(K.losses, name)
        if inspect.isfunction(fn) and list(inspect.signature(fn).parameters)[:2] == ["y_true", "y_pred"]:
            labels = np.array([0, 1]) if name == "sparse_categorical_crossentropy" else y
            np.testing.assert_array_equal(fn(y_true=labels, y_pred=p), fn(labels, p))


def _batchnorm_initializers():
    layer = L.BatchNormalization(
        beta_initializer="ones",
        gamma_initializer=K.initializers.Constant(3.0),
        moving_mean_initializer=K.initializers.Constant(2.0),
        moving_variance_initializer=K.initializers.Constant(4.0),
        beta_regularizer=K.regularizers.L2(0.5),
    )
    layer.build((None, 2))
    gamma, beta, mean, variance = layer.get_weights()
    np.testing.assert_array_equal(np.concatenate([gamma, beta, mean, variance]), [3, 3, 1, 1, 2, 2, 4, 4])
    assert layer.losses == [pytest.approx(0.5 * 2)]  # 0.5 * sum(beta^2)


QUICK_CHECKS = {
    "batchnorm_initializers": _batchnorm_initializers,
    "loss_functions_by_keyword": _loss_functions_by_keyword,
    "validation_batch_size": _validation_batch_size,
    "summary_positions": _summary_positions,
    "progbar_stream": _progbar_stream,
    "hard_shrink_threshold": _hard_shrink_threshold,
    "mean_values": _mean_values,
    "initializer_seeds": _initializer_seeds,
    "first_decay_steps": _first_decay_steps,
    "save_model_overwrite": _save_model_overwrite,
    "focal_class_balancing": _focal_class_balancing,
    "metrics_get_shapes": _metrics_get_shapes,
    "initial_value": _initial_value,
}


@pytest.mark.parametrize("name", sorted(QUICK_CHECKS))
def test_quick_check(name):
    QUICK_CHECKS[name]()


# ------------------------------------------------------------------------------------------- steps_per_execution
def _hook_calls(steps_per_execution: int):
    """Which batch hooks fit / evaluate / predict call (batch size 2, 10 rows: 5 batches)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 3), dtype=np.float32), rng.random((10, 1), dtype=np.float32)
    calls = []

    class Recorder(K.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            calls.append(("train_begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            calls.append(("train_end", batch, logs["loss"]))

        def on_test_batch_end(self, batch, logs=None):
            calls.append(("test_end", batch))

        def on_predict_batch_end(self, batch, logs=None):
            calls.append(("predict_end", batch, logs["outputs"].shape))

    gradfit.keras.utils.set_random_seed(3)
    model = _model(steps_per_execution=steps_per_execution)
    model.fit(x, y, batch_size=2, shuffle=False, verbose=0, callbacks=[Recorder()])
    model.evaluate(x, y, batch_size=2, verbose=0, callbacks=[Recorder()])
    model.predict(x, batch_size=2, verbose=0, callbacks=[Recorder()])
    return calls, model.get_weights()


def test_steps_per_execution_groups_the_batch_callbacks():
    """Keras 3.15 (TensorFlow 2.21, recorded by hand with this model and data): with steps_per_execution=4 and 5
    batches, the hooks run per group of 4: begin(0), end(3), begin(4), end(7) (the last group's end index is
    first + N - 1 although it holds one batch); predict hands over the group's rows (8, then 2)."""
    one, weights_one = _hook_calls(1)
    four, weights_four = _hook_calls(4)
    assert [c[:2] for c in four] == [
        ("train_begin", 0), ("train_end", 3), ("train_begin", 4), ("train_end", 7),
        ("test_end", 3), ("test_end", 7), ("predict_end", 3), ("predict_end", 7),
    ]  # fmt: skip
    assert [c[2] for c in four if c[0] == "predict_end"] == [(8, 1), (2, 1)]
    # the logs after a group are the running results after its last batch, as with one batch per call
    losses_one = {c[1]: c[2] for c in one if c[0] == "train_end"}
    assert [c[2] for c in four if c[0] == "train_end"] == [losses_one[3], losses_one[4]]
    for a, b in zip(weights_one, weights_four):
        np.testing.assert_array_equal(a, b)


def test_steps_per_execution_reads_stop_training_after_each_group():
    x, y = np.ones((10, 3), "float32"), np.ones((10, 1), "float32")
    for per_execution, expected in ((1, 1), (2, 2), (4, 4)):
        model = _model(steps_per_execution=per_execution)
        stop = K.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs, m=model: setattr(m, "stop_training", 1)
        )
        model.fit(x, y, batch_size=2, verbose=0, callbacks=[stop])
        assert model.optimizer.iterations == expected


def test_steps_per_execution_refuses_what_keras_does_differently():
    x, y = np.ones((10, 3), "float32"), np.ones((10, 1), "float32")
    model = _model(steps_per_execution=4)
    with pytest.raises(NotImplementedError, match="steps_per_epoch=3 .*steps_per_execution=4"):
        model.fit(x, y, batch_size=2, steps_per_epoch=3, verbose=0)
    with pytest.raises(NotImplementedError, match="steps=2"):
        model.evaluate(x, y, batch_size=2, steps=2, verbose=0)
    with pytest.raises(NotImplementedError, match="steps=2"):
        model.predict(x, batch_size=2, steps=2, verbose=0)
    model.fit(x, y, batch_size=2, steps_per_epoch=4, verbose=0)  # a multiple: as Keras
    for bad in (0, -1, "auto", 1.5, True):
        with pytest.raises(ValueError, match="steps_per_execution"):
            _model(steps_per_execution=bad)


def test_run_eagerly_and_jit_compile_are_checked_kept_and_change_nothing():
    x, y = np.ones((6, 3), "float32"), np.ones((6, 1), "float32")
    results = []
    for kwargs in ({}, {"run_eagerly": True}, {"jit_compile": True}, {"auto_scale_loss": False}):
        gradfit.keras.utils.set_random_seed(5)
        model = _model(**kwargs)
        model.fit(x, y, verbose=0)
        results.append(model.get_weights())
    for weights in results[1:]:
        for a, b in zip(results[0], weights):
            np.testing.assert_array_equal(a, b)
    model = _model(run_eagerly=True)
    assert model.run_eagerly is True and model.jit_compile is False  # Keras: eager disables jit
    assert _model().jit_compile is False  # Keras resolves 'auto' to False on a CPU-only machine
    for name, bad in (("run_eagerly", "yes"), ("jit_compile", "xla"), ("auto_scale_loss", None)):
        with pytest.raises(ValueError, match=name):
            _model(**{name: bad})


def test_layers_of_different_dtypes_in_one_model_are_refused():
    """Keras computes each layer in its own dtype; gradfit computes a model in one, so it refuses a mix instead of
    silently computing the float64 layer in float32."""
    with pytest.raises(ValueError, match="dense_a: float64, dense_b: float32"):
        Sequential([K.Input((3,)), L.Dense(2, dtype="float64", name="dense_a"), L.Dense(1, name="dense_b")])
    model = Sequential([K.Input((3,)), L.Dense(2, dtype="float64"), L.Dense(1, dtype="float64")])
    assert model.predict(np.ones((1, 3)), verbose=0).dtype == np.float64


def test_a_progbar_logger_given_is_the_only_progress_bar_and_prints_as_fit_says(capsys):
    """Keras 3.15 (recorded by hand): its own ProgbarLogger is added only when the callbacks hold none (gradfit
    printed every epoch twice); ``ProgbarLogger()`` prints as fit's ``verbose`` says (2: one line per epoch, 0:
    nothing); ``Epoch i/n`` only when fit runs more than one epoch."""
    x, y = np.ones((4, 3)), np.ones((4, 1))
    _model().fit(x, y, epochs=2, verbose=1, callbacks=[K.callbacks.ProgbarLogger()])
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1 and out.count("━") == 40
    _model().fit(x, y, verbose=2, callbacks=[K.callbacks.ProgbarLogger()])
    out = capsys.readouterr().out
    assert "Epoch" not in out and re.fullmatch(r"1/1 - \d+s - .*loss: .*\n", out)
    _model().fit(x, y, verbose=0, callbacks=[K.callbacks.ProgbarLogger()])
    assert capsys.readouterr().out == ""
