"""Run folders: writing them during training, reading them back for eval, compare and plot."""
