"""The network in NumPy: activations, initializers, losses, regularizers, layers, network."""

from dlcc.nn.network import Network

__all__ = ["Network"]
