"""burnin: on-host burn-in and hardware diagnostics."""

__version__ = "0.1.0"
