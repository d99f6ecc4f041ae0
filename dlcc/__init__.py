"""dlcc: train and compare small neural networks from YAML configs, every formula in NumPy."""

__version__ = "0.1.0"
