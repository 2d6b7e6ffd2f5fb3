"""``tf.random.set_seed``: makes initialisation, shuffling and dropout repeat exactly."""

from .backend import set_seed

__all__ = ["set_seed"]
