"""Training: the loop, early stopping, diagnostics, and the run that ties them to a run folder."""
