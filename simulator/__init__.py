"""HTTP simulator of the two source systems the pipeline reads.

It serves the contracts of ``docs/sources.md`` (the one-stop dossier system and the
hotline 1022 feedback system) from deterministic synthetic data, with optional fault injection, so
the connectors and the DAG can be developed and tested without the real systems. Only the Python
standard library is used at runtime, so it starts anywhere in well under a second.

Modules:

- :mod:`simulator.data`: the reference hierarchies, which one is in force when (the 2025 reform), and the
  deterministic synthetic records.
- :mod:`simulator.faults`: the fault injector (5xx, 429, cut, slow, dup).
- :mod:`simulator.server`: the HTTP server and :func:`simulator.server.start_in_thread`.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
