"""The Run panel: live inference in the worker, plots, sweeps, results."""
