"""``tf.keras.backend``."""

from ..backend import clear_session, epsilon, floatx, set_epsilon, set_floatx

__all__ = ["clear_session", "epsilon", "floatx", "set_epsilon", "set_floatx"]
