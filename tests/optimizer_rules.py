"""Keras 3.15's optimizer update rules, written out by hand in float64 (from keras/src/optimizers/*.py, not from
gradfit), for tests/test_optimizers.py and tests/test_optimizers_added.py.

Where Keras passes a Python constant through ``ops.cast`` (TensorFlow makes a float32 tensor of it first), the
rule rounds it with ``f32``; where Keras does arithmetic with the Python float itself, the rule keeps it exact.
NumPy only: tests/parity/record_optimizers.py checks these rules against Keras itself in a TensorFlow venv.
"""

import numpy as np

W0 = np.array([0.5, -1.2, 2.0, 0.0, -0.3])
# gradients whose size changes a lot from step to step (Adamax's running maximum, Lion's sign matter)
GRADS = [
    np.array([3.0, -2.0, 0.5, 1.0, -4.0]),
    np.array([0.1, 0.2, -0.1, -0.05, 0.3]),
    np.array([-2.0, 1.5, 0.0, 0.7, 2.5]),
    np.array([0.05, -0.01, 0.02, 0.0, -0.04]),
    np.array([1.0, 1.0, -1.0, -1.0, 0.5]),
]


def f32(x):
    """A Python float as ``ops.cast(x, "float64")`` sees it: through float32 first."""
    return float(np.float32(x))


def sgd(lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    w, m, out = W0.copy(), np.zeros_like(W0), []
    mu = f32(momentum)  # ops.cast(self.momentum)
    for g in GRADS:
        w = w - w * f32(weight_decay) * lr
        if momentum:
            m = m * mu - g * lr
            w = w + (m * mu - g * lr if nesterov else m)
        else:
            w = w - g * lr
        out.append(w)
    return out


def rmsprop(lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    w, v, avg, mom, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0), []
    for g in GRADS:
        v = rho * v + (1 - rho) * g**2
        if centered:
            avg = rho * avg + (1 - rho) * g
            step = lr * g / np.sqrt(v - avg**2 + epsilon)
        else:
            step = lr * g / np.sqrt(v + epsilon)  # eps inside the root
        if momentum:
            mom = momentum * mom + step
            w = w - mom
        else:
            w = w - step
        out.append(w)
    return out


def adam_alpha(lr, beta_1, beta_2, t):
    """Bias correction folded into the step size, from ``ops.cast(beta)`` (0.999 -> 0.99900001); m and v use the
    exact ``1 - beta``."""
    return lr * np.sqrt(1 - f32(beta_2) ** t) / (1 - f32(beta_1) ** t)


def adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=0.0):
    w, m, v, v_hat, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0), []
    for t, g in enumerate(GRADS, start=1):
        w = w - w * f32(weight_decay) * lr  # decoupled weight decay first (AdamW), wd through ops.cast
        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
        w = w - m * adam_alpha(lr, beta_1, beta_2, t) / (np.sqrt(v_hat if amsgrad else v) + epsilon)
        out.append(w)
    return out


def adagrad(lr=0.001, initial=0.1, epsilon=1e-7):
    w, acc, out = W0.copy(), np.full_like(W0, f32(initial)), []  # initializers.Constant casts the value
    for g in GRADS:
        acc = acc + g**2
        w = w - lr * g / np.sqrt(acc + epsilon)
        out.append(w)
    return out


def nadam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
    w, m, v, u_product, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), 1.0, []
    for t, g in enumerate(GRADS, start=1):
        w = w - w * f32(weight_decay) * lr
        # _backend_update_step: the running product, with the Python beta_1 and 0.96
        u_product = u_product * beta_1 * (1.0 - 0.5 * 0.96**t)
        # update_step: beta_1, beta_2 and the decay 0.96 cast to the variable's type
        b1, b2, decay = f32(beta_1), f32(beta_2), f32(0.96)
        u_t = b1 * (1.0 - 0.5 * decay**t)
        u_t_1 = b1 * (1.0 - 0.5 * decay ** (t + 1))
        u_product_t_1 = u_product * u_t_1
        m = m + (g - m) * (1 - b1)
        v = v + (g**2 - v) * (1 - b2)
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - b2**t)
        w = w - m_hat * lr / (np.sqrt(v_hat) + epsilon)
        out.append(w)
    return out


def adamax(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
    w, m, u, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), []
    for t, g in enumerate(GRADS, start=1):
        w = w - w * f32(weight_decay) * lr
        beta_1_power = f32(beta_1) ** t
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - lr * m / ((1 - beta_1_power) * (u + epsilon))
        out.append(w)
    return out


def lion(lr=0.001, beta_1=0.9, beta_2=0.99, weight_decay=0.0):
    w, m, out = W0.copy(), np.zeros_like(W0), []
    b1, b2 = f32(beta_1), f32(beta_2)
    for g in GRADS:
        w = w - w * f32(weight_decay) * lr
        w = w - lr * np.sign(m * b1 + g * (1.0 - b1))
        m = m * b2 + g * (1.0 - b2)
        out.append(w)
    return out


def adadelta(lr=0.001, rho=0.95, epsilon=1e-7, weight_decay=0.0):
    w, acc_g, acc_dw, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), []
    for g in GRADS:
        w = w - w * f32(weight_decay) * lr
        acc_g = rho * acc_g + (1 - rho) * g**2
        delta = -(np.sqrt(acc_dw + epsilon) * g / np.sqrt(acc_g + epsilon))
        acc_dw = rho * acc_dw + (1 - rho) * delta**2
        w = w + lr * delta
        out.append(w)
    return out


def ftrl(lr=0.001, power=-0.5, initial=0.1, l1=0.0, l2=0.0, shrinkage=0.0, beta=0.0, weight_decay=0.0):
    w, acc, linear, out = W0.copy(), np.full_like(W0, f32(initial)), np.zeros_like(W0), []  # Constant casts
    for g in GRADS:
        w = w - w * f32(weight_decay) * lr
        l2_reg = l2 + beta / (2.0 * lr)
        grad_to_use = g + 2 * shrinkage * w
        new_acc = acc + g**2
        linear = linear + grad_to_use - (new_acc ** (-power) - acc ** (-power)) / lr * w
        quadratic = new_acc ** (-power) / lr + 2 * l2_reg
        w = (np.clip(linear, -l1, l1) - linear) / quadratic
        acc = new_acc
        out.append(w)
    return out


#: (case id, gradfit class name, constructor kwargs, rule, rule kwargs): each case also runs in Keras
#: (record_optimizers.py --check-rules) to check the rule itself
CASES = [
    ("sgd_default", "SGD", {}, sgd, {}),
    ("sgd_lr", "SGD", {"learning_rate": 0.3}, sgd, {"lr": 0.3}),
    ("sgd_momentum", "SGD", {"learning_rate": 0.1, "momentum": 0.9}, sgd, {"lr": 0.1, "momentum": 0.9}),
    (
        "sgd_nesterov",
        "SGD",
        {"learning_rate": 0.1, "momentum": 0.875, "nesterov": True},
        sgd,
        {"lr": 0.1, "momentum": 0.875, "nesterov": True},
    ),
    ("sgd_weight_decay", "SGD", {"learning_rate": 0.1, "weight_decay": 0.3}, sgd, {"lr": 0.1, "weight_decay": 0.3}),
    ("rmsprop_default", "RMSprop", {}, rmsprop, {}),
    ("rmsprop_lr_rho", "RMSprop", {"learning_rate": 0.05, "rho": 0.5}, rmsprop, {"lr": 0.05, "rho": 0.5}),
    ("rmsprop_big_eps", "RMSprop", {"learning_rate": 0.01, "epsilon": 0.5}, rmsprop, {"lr": 0.01, "epsilon": 0.5}),
    ("rmsprop_centered", "RMSprop", {"learning_rate": 0.01, "centered": True}, rmsprop, {"lr": 0.01, "centered": True}),
    ("rmsprop_momentum", "RMSprop", {"learning_rate": 0.01, "momentum": 0.9}, rmsprop, {"lr": 0.01, "momentum": 0.9}),
    (
        "rmsprop_centered_momentum",
        "RMSprop",
        {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True},
        rmsprop,
        {"lr": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True},
    ),
    # rho = 1: v never moves from 0 (the scaled form gradfit keeps v in must not divide by 1 - rho)
    ("rmsprop_rho_1", "RMSprop", {"learning_rate": 0.01, "rho": 1.0}, rmsprop, {"lr": 0.01, "rho": 1.0}),
    ("adam_default", "Adam", {}, adam, {}),
    (
        "adam_custom",
        "Adam",
        {"learning_rate": 0.1, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 0.01},
        adam,
        {"lr": 0.1, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 0.01},
    ),
    ("adam_amsgrad", "Adam", {"learning_rate": 0.1, "amsgrad": True}, adam, {"lr": 0.1, "amsgrad": True}),
    ("adamw_default", "AdamW", {}, adam, {"weight_decay": 0.004}),
    ("adamw_strong", "AdamW", {"learning_rate": 0.1, "weight_decay": 0.5}, adam, {"lr": 0.1, "weight_decay": 0.5}),
    ("adam_weight_decay", "Adam", {"learning_rate": 0.1, "weight_decay": 0.3}, adam, {"lr": 0.1, "weight_decay": 0.3}),
    ("adagrad_default", "Adagrad", {}, adagrad, {}),
    (
        "adagrad_custom",
        "Adagrad",
        {"learning_rate": 0.5, "initial_accumulator_value": 0.3},
        adagrad,
        {"lr": 0.5, "initial": 0.3},
    ),
    ("nadam_default", "Nadam", {}, nadam, {}),
    (
        "nadam_custom",
        "Nadam",
        {"learning_rate": 0.1, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 0.01},
        nadam,
        {"lr": 0.1, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 0.01},
    ),
    (
        "nadam_weight_decay",
        "Nadam",
        {"learning_rate": 0.05, "weight_decay": 0.25},
        nadam,
        {"lr": 0.05, "weight_decay": 0.25},
    ),
    ("adamax_default", "Adamax", {}, adamax, {}),
    (
        "adamax_custom",
        "Adamax",
        {"learning_rate": 0.2, "beta_1": 0.7, "beta_2": 0.5, "epsilon": 0.001},
        adamax,
        {"lr": 0.2, "beta_1": 0.7, "beta_2": 0.5, "epsilon": 0.001},
    ),
    ("lion_default", "Lion", {}, lion, {}),
    (
        "lion_custom",
        "Lion",
        {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.9},
        lion,
        {"lr": 0.1, "beta_1": 0.5, "beta_2": 0.9},
    ),
    ("lion_beta_1_is_1", "Lion", {"learning_rate": 0.1, "beta_1": 1.0}, lion, {"lr": 0.1, "beta_1": 1.0}),
    ("adadelta_default", "Adadelta", {}, adadelta, {}),
    (
        "adadelta_custom",
        "Adadelta",
        {"learning_rate": 1.0, "rho": 0.5, "epsilon": 1e-3},
        adadelta,
        {"lr": 1.0, "rho": 0.5, "epsilon": 1e-3},
    ),
    ("ftrl_default", "Ftrl", {}, ftrl, {}),
    (
        "ftrl_l1_l2",
        "Ftrl",
        {"learning_rate": 0.5, "l1_regularization_strength": 0.05, "l2_regularization_strength": 0.1},
        ftrl,
        {"lr": 0.5, "l1": 0.05, "l2": 0.1},
    ),
    (
        "ftrl_power_beta_shrinkage",
        "Ftrl",
        {
            "learning_rate": 0.3,
            "learning_rate_power": -0.25,
            "initial_accumulator_value": 0.5,
            "beta": 0.2,
            "l2_shrinkage_regularization_strength": 0.05,
        },
        ftrl,
        {"lr": 0.3, "power": -0.25, "initial": 0.5, "beta": 0.2, "shrinkage": 0.05},
    ),
    ("ftrl_fixed_rate", "Ftrl", {"learning_rate": 0.1, "learning_rate_power": 0.0}, ftrl, {"lr": 0.1, "power": 0.0}),
]


# ------------------------------------------------------------- EMA and gradient accumulation (the base optimizer)


def keras_apply(
    rule_step,
    lr=0.01,
    grads=None,
    steps=None,
    use_ema=False,
    ema_momentum=0.99,
    ema_overwrite_frequency=None,
    clipnorm=None,
    weight_decay=0.0,
    schedule=None,
):
    """Keras 3.15's ``BaseOptimizer.apply`` / ``_backend_apply_gradients`` by hand, around one rule's step
    ``rule_step(w, g, lr, t, state) -> w`` (``state``: the rule's own dict). ``steps``:
    ``gradient_accumulation_steps``; ``schedule(i) -> lr`` sees every micro-step ``i`` (Keras's
    ``_iterations``). Returns the weights after each micro-step and the moving average after each."""
    grads = GRADS if grads is None else grads
    w, acc, average, state, out, averages = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), {}, [], []
    for real, g in enumerate(grads):  # real: Keras's _iterations before this apply
        iterations = real // steps if steps else real  # Keras's optimizer.iterations
        alpha = schedule(real) if schedule else lr
        update = True
        if steps:
            if (real + 1) % steps == 0:
                g = (g + acc) / steps
                acc = np.zeros_like(W0)
            else:
                acc = acc + g
                update = False
        if update:
            if clipnorm:
                norm = np.sqrt(np.sum(g**2))
                g = g * clipnorm / max(norm, clipnorm)
            w = w - w * f32(weight_decay) * alpha
            w = rule_step(w, g, alpha, iterations + 1, state)
        if use_ema:
            mu = ema_momentum if iterations != 0 else 0.0  # cast(iterations != 0) * ema_momentum
            average = mu * average + (1 - mu) * w
            if ema_overwrite_frequency and (iterations + 1) % ema_overwrite_frequency == 0:
                w = average.copy()
        out.append(w)
        averages.append(average)
    return out, averages


def sgd_momentum_step(momentum):
    def step(w, g, lr, t, state):
        m = state.get("m", np.zeros_like(w)) * f32(momentum) - g * lr
        state["m"] = m
        return w + m

    return step


def adam_step(beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    def step(w, g, lr, t, state):
        m = state.get("m", np.zeros_like(w))
        v = state.get("v", np.zeros_like(w))
        state["m"] = m = m + (g - m) * (1 - beta_1)
        state["v"] = v = v + (g**2 - v) * (1 - beta_2)
        return w - m * adam_alpha(lr, beta_1, beta_2, t) / (np.sqrt(v) + epsilon)

    return step


def exponential_decay(initial_learning_rate, decay_steps, decay_rate):
    """``ExponentialDecay`` (not staircase) at micro-step ``i``: ``initial * rate^(i / decay_steps)``, in float32
    as Keras computes it even when floatx is float64 (``ops.convert_to_tensor`` of a Python float)."""
    a, d, r = np.float32(initial_learning_rate), np.float32(decay_steps), np.float32(decay_rate)
    return lambda i: float(a * r ** (np.float32(i) / d))


#: a constructor kwarg ``learning_rate`` given as this list is ``schedules.ExponentialDecay(**DECAY[1])``
DECAY = ["ExponentialDecay", {"initial_learning_rate": 0.2, "decay_steps": 2, "decay_rate": 0.5}]


#: (case id, gradfit class name, constructor kwargs, rule_step, keras_apply kwargs): float64, 5 micro-steps
EMA_CASES = [
    (
        "sgd_ema",
        "SGD",
        {"learning_rate": 0.1, "momentum": 0.9, "use_ema": True},
        sgd_momentum_step(0.9),
        {"lr": 0.1, "use_ema": True},
    ),
    (
        "sgd_ema_overwrite_2",
        "SGD",
        {"learning_rate": 0.1, "momentum": 0.9, "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2},
        sgd_momentum_step(0.9),
        {"lr": 0.1, "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2},
    ),
    (
        "adam_ema_overwrite_3",
        "Adam",
        {"learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 3},
        adam_step(),
        {"lr": 0.1, "use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 3},
    ),
    (
        "adam_accumulate_2",
        "Adam",
        {"learning_rate": 0.1, "gradient_accumulation_steps": 2},
        adam_step(),
        {"lr": 0.1, "steps": 2},
    ),
    (
        "adam_accumulate_3_clipnorm_weight_decay",
        "Adam",
        {"learning_rate": 0.1, "gradient_accumulation_steps": 3, "clipnorm": 0.5, "weight_decay": 0.2},
        adam_step(),
        {"lr": 0.1, "steps": 3, "clipnorm": 0.5, "weight_decay": 0.2},
    ),
    (
        "sgd_accumulate_2_ema_overwrite_2",
        "SGD",
        {
            "learning_rate": 0.1,
            "momentum": 0.5,
            "gradient_accumulation_steps": 2,
            "use_ema": True,
            "ema_momentum": 0.6,
            "ema_overwrite_frequency": 2,
        },
        sgd_momentum_step(0.5),
        {"lr": 0.1, "steps": 2, "use_ema": True, "ema_momentum": 0.6, "ema_overwrite_frequency": 2},
    ),
    (
        "sgd_schedule_accumulate_2",
        "SGD",
        {"learning_rate": DECAY, "momentum": 0.5, "gradient_accumulation_steps": 2},
        sgd_momentum_step(0.5),
        {"schedule": exponential_decay(**DECAY[1]), "steps": 2},
    ),
]
