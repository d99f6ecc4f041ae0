"""Sweeps: many runs of one base config over grids, random draws and seeds, on a process pool
or a Ray cluster (plan.py -> task.py in the workers -> driver.py collecting results)."""
