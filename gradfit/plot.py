"""Pictures of training (needs matplotlib: ``pip install 'gradfit[plot]'``).

Every function returns a matplotlib ``Figure`` and never opens a window by itself; save one with
``fig.savefig('loss.png')``. Without a display, the non-interactive Agg backend is used.

* :func:`plot_history`: loss and metrics per epoch (validation dashed), gradient norms per layer;
* :func:`plot_digits`: a grid of digit images titled ``label,yhat``, mistakes in red;
* :func:`plot_decision_boundary`: what a model predicts over the plane of 2-feature inputs;
* :func:`plot_activations`: the activation functions beside the derivatives gradfit uses;
* :func:`plot_units`: what each unit of a ``Dense`` layer responds to.

matplotlib is imported inside the functions, so ``import gradfit`` stays fast.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["plot_activations", "plot_decision_boundary", "plot_digits", "plot_history", "plot_units"]

GRAD_NORM_PREFIX = "grad_norm/"
GRAD_NORM_TITLE = "gradient norm per layer"
DEFAULT_ACTIVATIONS = ("sigmoid", "relu", "linear", "tanh", "softmax")
MARKED_EPOCHS = 40  # curves of at most this many epochs get a dot per epoch


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "gradfit.plot needs matplotlib: pip install 'gradfit[plot]' (or pip install matplotlib)."
        ) from None
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND") and os.name != "nt":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panel_grid(plt, n: int, max_cols: int, panel_size: tuple[float, float]):
    """A figure with ``n`` panels in rows of at most ``max_cols``; unused grid cells are removed."""
    cols = max(1, min(n, max_cols))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows), squeeze=False)
    axes = list(axes.ravel())
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes[:n]


# --------------------------------------------------------------------------- history


def plot_history(history, metrics=None):
    """Loss and metrics per epoch from ``fit``'s History, one panel each, validation curves dashed.

    Series named ``grad_norm/<layer name>`` (one gradient norm per epoch, added by a callback) are
    drawn together in one extra panel titled ``"gradient norm per layer"`` with a logarithmic y-axis,
    so that gradients shrinking towards zero in the first layers (vanishing gradients) stand out.

    Parameters
    ----------
    history : History or dict
        What ``model.fit(...)`` returns, or its ``.history`` dict.
    metrics : list of str, optional
        Which series to draw (default: every series that is not ``val_*``). ``val_<name>`` is drawn
        dashed on the panel of ``<name>`` whenever the history has it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    logs = getattr(history, "history", history)
    if not logs:
        raise ValueError("plot_history: the history is empty; train for at least one epoch first.")
    names = list(metrics) if metrics is not None else [k for k in logs if not k.startswith("val_")]
    for name in names:
        if name not in logs:
            raise ValueError(f"plot_history: no series {name!r}; the history has {sorted(logs)}.")
    panels, grad_names = history_panels(names)
    if not panels and not grad_names:
        raise ValueError("plot_history: nothing to draw; give at least one series name.")
    n_panels = len(panels) + (1 if grad_names else 0)
    fig, axes = _panel_grid(plt, n_panels, max_cols=3, panel_size=(5.0, 3.6))
    series = {name: (_epochs(values), values) for name, values in logs.items()}
    draw_history(axes, series, panels, grad_names)
    fig.tight_layout()
    return fig


def history_panels(names) -> tuple[list[str], list[str]]:
    """``(panels, grad_names)``: the series drawn one per panel, and the ``grad_norm/*`` ones drawn together."""
    grad_names = [n for n in names if n.startswith(GRAD_NORM_PREFIX)]
    return [n for n in names if not n.startswith(GRAD_NORM_PREFIX)], grad_names


def draw_history(axes, series: dict, panels, grad_names) -> None:
    """Draw :func:`plot_history`'s panels into ``axes`` (one per name of ``panels``, then one for ``grad_names``).

    ``series`` maps each name (and ``val_<name>``) to ``(epochs, values)``: the epoch numbers (from 1) at which the
    values were logged, so a validation run every few epochs is drawn at its epochs. Used by ``plot_history``
    and by the ``LivePlot`` callback, which redraws them every epoch."""
    for ax, name in zip(axes, panels):
        ax.plot(*series[name], label=name, **_markers(series[name][1]))
        if "val_" + name in series:
            ax.plot(*series["val_" + name], "--", label="val_" + name, **_markers(series["val_" + name][1]))
        ax.set_ylabel(name)
        ax.set_title(name)
        _finish_epoch_axes(ax)

    if grad_names:
        ax = axes[len(panels)]
        for name in grad_names:
            epochs, values = series[name]
            values = np.asarray(values, dtype=float)
            # a norm of exactly 0 (a dead layer) has no place on a log axis; leave a gap rather than fail
            ax.plot(epochs, np.where(values > 0, values, np.nan), label=name[len(GRAD_NORM_PREFIX) :])
        ax.set_yscale("log")
        ax.set_ylabel("gradient norm")
        ax.set_title(GRAD_NORM_TITLE)
        _finish_epoch_axes(ax)


def _markers(values) -> dict:
    """A dot at each epoch while there are few (a single epoch is a point, which a bare line does not show)."""
    return {"marker": "o", "markersize": 3} if len(values) <= MARKED_EPOCHS else {}


def _epochs(series) -> np.ndarray:
    return np.arange(1, len(series) + 1)


def _finish_epoch_axes(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # epochs are whole: no tick at 1.5
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


# --------------------------------------------------------------------------- digits


def plot_digits(X, y, y_pred=None, image_size: int | None = None, n: int = 64, seed: int = 0):
    """A grid of digit images titled ``label,yhat``; wrong predictions are titled in red.

    Parameters
    ----------
    X : array of shape (m, pixels)
        Rows are square images flattened column by column, as in the course (``X[i].reshape(s, s).T``).
    y : array of shape (m,) or (m, 1)
        The labels.
    y_pred : array, optional
        Predicted labels; class probabilities or logits of shape ``(m, classes)`` are turned into
        labels by ``argmax``, and one column of probabilities by the threshold 0.5.
    image_size : int, optional
        The side of the square images (default: the square root of the row length).
    n : int
        How many images to show, drawn at random (with ``seed``) without replacement.
    seed : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    X = np.asarray(X)
    y = np.asarray(y).reshape(len(X), -1)[:, 0]
    size = image_size or int(round(np.sqrt(X.shape[1])))
    if size * size != X.shape[1]:
        raise ValueError(f"plot_digits: rows of {X.shape[1]} pixels are not square images; give image_size.")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), size=min(n, len(X)), replace=False)
    cols = int(np.ceil(np.sqrt(len(idx))))
    rows = int(np.ceil(len(idx) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.0), squeeze=False)
    pred = None if y_pred is None else _predicted_labels(y_pred, len(X))
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), idx):
        ax.imshow(X[i].reshape(size, size).T, cmap="gray")
        if pred is None:
            ax.set_title(f"{y[i]:g}", fontsize=8)
        else:
            wrong = pred[i] != y[i]
            ax.set_title(f"{y[i]:g},{pred[i]:g}", fontsize=8, color="red" if wrong else "black")
    fig.suptitle("label,yhat" if pred is not None else "label", fontsize=10)
    fig.tight_layout()
    return fig


def _predicted_labels(y_pred, m: int) -> np.ndarray:
    pred = np.asarray(y_pred).reshape(m, -1)
    if pred.shape[1] > 1:
        return pred.argmax(axis=1)
    pred = pred[:, 0]
    if pred.dtype.kind == "f" and not np.all(pred == np.round(pred)):
        return (pred >= 0.5).astype(int)
    return pred


# --------------------------------------------------------------------------- decision boundary


def plot_decision_boundary(model, X, y, resolution: int = 200, margin: float = 0.1):
    """What a model predicts over the plane of its two input features, with the data on top.

    With one output unit (binary classification) the plane is shaded by the probability
    ``p(y = 1 | x)`` and the decision boundary ``p = 0.5`` is drawn as a black line. A model whose
    last layer is linear is taken to output logits, so ``sigmoid`` turns them into probabilities first.
    With several output units (multiclass) each point of the plane is coloured by the class with the
    largest output (``argmax``), and the borders between these regions are drawn.

    Parameters
    ----------
    model : Sequential
        A trained model taking inputs of 2 features.
    X : array of shape (m, 2)
    y : array of shape (m,), (m, 1) or one-hot (m, classes)
    resolution : int
        Grid points along each axis at which ``model.predict`` is evaluated.
    margin : float
        How far the grid reaches beyond the data, as a fraction of each feature's range.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    X = _two_features(X, "plot_decision_boundary")
    labels = _class_labels(y, len(X), "plot_decision_boundary")
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    draw_decision_boundary(fig, ax, model, X, labels, resolution, margin)
    fig.tight_layout()
    return fig


def draw_decision_boundary(fig, ax, model, X: np.ndarray, labels: np.ndarray, resolution: int, margin: float):
    """Draw :func:`plot_decision_boundary`'s picture into ``ax`` of ``fig`` (its colour bar beside ``ax``).

    ``X`` is checked to be ``(m, 2)`` and ``labels`` one label per row (``_two_features``, ``_class_labels``).
    Returns the shaded image (an ``AxesImage``): ``p(y = 1 | x)`` on the grid, or the ``argmax`` regions. Used by
    ``plot_decision_boundary`` and by the ``LivePlot`` callback, which redraws it every epoch."""
    import matplotlib

    xx, yy, grid = _plane_grid(X, resolution, margin)
    out = np.asarray(model.predict(grid, batch_size=len(grid), verbose=0), dtype=float)
    out = out.reshape(len(grid), -1)
    extent = (xx[0, 0], xx[0, -1], yy[0, 0], yy[-1, 0])

    if out.shape[1] == 1:
        logits = _last_activation_name(model) == "linear"
        with np.errstate(over="ignore"):  # a logit below -709: exp overflows to inf and p is exactly 0
            p = 1 / (1 + np.exp(-out[:, 0])) if logits else out[:, 0]
        p = p.reshape(xx.shape)
        im = ax.imshow(p, extent=extent, origin="lower", aspect="auto", cmap="coolwarm", vmin=0, vmax=1, alpha=0.6)
        fig.colorbar(im, ax=ax, label="p(y = 1 | x)")
        if p.min() < 0.5 < p.max():  # a level the plane never crosses: no line (some matplotlib versions warn)
            ax.contour(xx, yy, p, levels=[0.5], colors="black", linewidths=1.5)
        title = "decision boundary p = 0.5" + (" (sigmoid of the logits)" if logits else "")
        coolwarm = matplotlib.colormaps["coolwarm"]
        colors = [coolwarm(0.0), coolwarm(1.0)]
    else:
        n_classes = out.shape[1]
        regions = out.argmax(axis=1).reshape(xx.shape)
        cmap = _class_cmap(n_classes)
        im = ax.imshow(
            regions,
            extent=extent,
            origin="lower",
            aspect="auto",
            cmap=cmap,
            vmin=-0.5,
            vmax=n_classes - 0.5,
            alpha=0.35,
            interpolation="nearest",
        )
        if regions.min() < regions.max():  # one class everywhere: no borders to draw
            ax.contour(xx, yy, regions, levels=np.arange(n_classes - 1) + 0.5, colors="black", linewidths=1.0)
        title = f"decision regions: argmax of {n_classes} outputs"
        colors = [cmap(k) for k in range(n_classes)]

    for k in np.unique(labels):
        mask = labels == k
        color = colors[int(k)] if 0 <= int(k) < len(colors) else "gray"
        ax.scatter(X[mask, 0], X[mask, 1], color=color, edgecolors="black", s=25, label=f"y = {k:g}")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return im


def _two_features(X, who: str) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"{who}: X must have exactly 2 features, shape (m, 2), to be drawn on the plane; got shape {X.shape}."
        )
    if len(X) == 0:
        raise ValueError(f"{who}: X has no examples.")
    return X


def _class_labels(y, m: int, who: str) -> np.ndarray:
    y = np.asarray(y)
    if len(y) != m:
        raise ValueError(f"{who}: X has {m} examples but y has {len(y)}.")
    y = y.reshape(m, -1)
    return y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]


def _plane_grid(X: np.ndarray, resolution: int, margin: float):
    """A ``resolution x resolution`` grid covering ``X`` plus a margin; returns the meshes and the (n, 2) points."""
    if int(resolution) < 2:
        raise ValueError(f"resolution must be at least 2 grid points per axis, got {resolution!r}.")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = np.where(hi > lo, (hi - lo) * margin, 0.5)
    x1 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], int(resolution))
    x2 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], int(resolution))
    xx, yy = np.meshgrid(x1, x2)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def _last_activation_name(model) -> str | None:
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", None)


def _class_cmap(n_classes: int):
    import matplotlib
    from matplotlib.colors import ListedColormap

    base = matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"]
    return ListedColormap([base(k % base.N) for k in range(n_classes)])


# --------------------------------------------------------------------------- activations


def plot_activations(names=DEFAULT_ACTIVATIONS, z_range: tuple[float, float] = (-5.0, 5.0), points: int = 401):
    """Each activation ``g(z)`` (solid) beside its derivative ``g'(z)`` (dashed), one panel each.

    The derivative is the one gradfit trains with: the activation's own ``backward`` with ``da = 1``.
    Softmax takes a vector, so its panel follows the first output ``a_1`` of ``softmax([z, 0, -z])``
    as ``z`` moves, and its derivative ``d a_1 / dz`` (by the chain rule through ``(z, 0, -z)``).

    Parameters
    ----------
    names : sequence of str or activation
        Which activations to draw (default: sigmoid, ReLU, linear, tanh and softmax).
    z_range : (float, float)
    points : int
        Points at which each curve is evaluated.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from . import activations

    plt = _pyplot()
    acts = [activations.get(name) for name in names]
    if not acts:
        raise ValueError("plot_activations: give at least one activation.")
    z = np.linspace(z_range[0], z_range[1], int(points))
    fig, axes = _panel_grid(plt, len(acts), max_cols=3, panel_size=(4.2, 3.4))
    for ax, act in zip(axes, acts):
        if act.__name__ == "softmax":
            g, dg = _softmax_along_line(act, z)
            title = f"softmax: a_1 of [z, 0, -z]\n{act.formula}"
        else:
            with np.errstate(over="ignore", under="ignore"):
                g = act.forward(z, None)
                dg = act.backward(z, g, np.ones_like(z))
            title = f"{act.__name__}\n{act.formula}"
        ax.plot(z, g, "-", label="g(z)")
        ax.plot(z, dg, "--", label="g'(z)")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("z")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _softmax_along_line(act, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a_1`` of ``softmax([z, 0, -z])`` and ``d a_1 / dz``, the latter from the activation's backward pass.

    With ``da = e_1`` the backward pass returns ``d a_1 / d z_k`` for the three inputs ``z_k``; the
    inputs move as ``(1, 0, -1)`` per unit of ``z``, so ``d a_1 / dz = dz_1 - dz_3``.
    """
    Z = np.stack([z, np.zeros_like(z), -z], axis=-1)
    with np.errstate(over="ignore", under="ignore"):
        a = act.forward(Z, None)
        da = np.zeros_like(Z)
        da[:, 0] = 1
        dz = act.backward(Z, a, da)
    return a[:, 0], dz @ np.array([1.0, 0.0, -1.0])


# --------------------------------------------------------------------------- units


def plot_units(model, X, layer=0, resolution: int = 100, margin: float = 0.1, max_units: int = 64):
    """What each unit of a ``Dense`` layer responds to, one panel per unit titled ``unit j``.

    * With 2 input features (as in the course's coffee-roasting lab) each panel is a heat map of the
      unit's activation over the plane of inputs around ``X``, with the examples of ``X`` on top:
      it shows the region of inputs that switches the unit on.
    * With 1 input feature each panel is the unit's activation as a curve over the inputs.
    * With wider inputs (e.g. the 400 pixels of a 20x20 digit) each panel shows the unit's incoming
      weights ``W[:, j]`` as an image: for the first layer, whose inputs are the pixels, reshaped to a
      square column by column as the course's images are (``w.reshape(s, s).T``); otherwise as one row.

    Parameters
    ----------
    model : Sequential
        A built (usually trained) model.
    X : array of shape (m, features)
        Inputs; for 1 or 2 features, they set the range drawn.
    layer : int or str
        The layer, by index into ``model.layers`` or by name.
    resolution : int
        Grid points along each input axis (1 or 2 features).
    margin : float
        How far the grid reaches beyond the data, as a fraction of each feature's range.
    max_units : int
        At most this many units are drawn (the first ones).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"plot_units: X must be a non-empty (m, features) array, got shape {X.shape}.")
    if not model.built:
        raise ValueError("plot_units: the model is not built yet; train it (fit) or build it first.")
    index = _layer_index(model, layer)
    target = model.layers[index]
    kernel = getattr(target, "kernel", None)
    if kernel is None:
        raise ValueError(f"plot_units: layer {target.name!r} has no units with weights; choose a Dense layer.")
    n_units = min(kernel.shape[1], int(max_units))
    n_features = X.shape[1]
    if n_features <= 2:
        fig, axes = _panel_grid(plt, n_units, max_cols=3, panel_size=(3.6, 3.0))
    else:
        fig, axes = _panel_grid(plt, n_units, max_cols=8, panel_size=(1.5, 1.7))
    prefix = f"{target.name}: "

    if n_features == 2:
        xx, yy, grid = _plane_grid(X, resolution, margin)
        acts = _activations_of(model, grid, index)
        extent = (xx[0, 0], xx[0, -1], yy[0, 0], yy[-1, 0])
        for j, ax in enumerate(axes):
            im = ax.imshow(acts[:, j].reshape(xx.shape), extent=extent, origin="lower", aspect="auto", cmap="viridis")
            fig.colorbar(im, ax=ax)
            ax.scatter(X[:, 0], X[:, 1], s=6, c="white", edgecolors="black", linewidths=0.3)
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
            ax.set_title(f"unit {j}", fontsize=9)
        fig.suptitle(prefix + "activation of each unit over the inputs", fontsize=10)
    elif n_features == 1:
        lo, hi = X.min(), X.max()
        pad = (hi - lo) * margin if hi > lo else 0.5
        x = np.linspace(lo - pad, hi + pad, int(resolution)).reshape(-1, 1)
        acts = _activations_of(model, x, index)
        for j, ax in enumerate(axes):
            ax.plot(x[:, 0], acts[:, j])
            ax.set_xlabel("x")
            ax.set_title(f"unit {j}", fontsize=9)
            ax.grid(True, alpha=0.3)
        fig.suptitle(prefix + "activation of each unit over the inputs", fontsize=10)
    else:
        weights = np.asarray(kernel, dtype=float)
        side = int(round(np.sqrt(weights.shape[0])))
        square = index == 0 and side * side == weights.shape[0]
        for j, ax in enumerate(axes):
            w = weights[:, j]
            picture = w.reshape(side, side).T if square else w.reshape(1, -1)
            limit = float(np.abs(w).max()) or 1.0  # symmetric colours: red pushes the unit on, blue off
            ax.imshow(picture, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="equal" if square else "auto")
            ax.set_axis_off()
            ax.set_title(f"unit {j}", fontsize=9)
        fig.suptitle(prefix + "incoming weights of each unit (red excites, blue inhibits)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _layer_index(model, layer) -> int:
    layers = model.layers
    if isinstance(layer, str):
        for i, candidate in enumerate(layers):
            if candidate.name == layer:
                return i
        raise ValueError(f"plot_units: no layer named {layer!r}; layers: {[c.name for c in layers]}.")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -len(layers) <= layer < len(layers):
        raise ValueError(f"plot_units: layer must be a layer name or an index below {len(layers)}, got {layer!r}.")
    return int(layer) % len(layers)


def _activations_of(model, x: np.ndarray, index: int) -> np.ndarray:
    """The output of ``model.layers[index]`` for inputs ``x`` (``model.activations``, inference mode), one row each."""
    out = model.activations(x, batch_size=len(x))[model.layers[index].name]
    return out.reshape(len(x), -1).astype(float)
