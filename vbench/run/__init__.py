"""A run and a sweep of runs: planning (suites, presets, ``--set`` grids), executing one run,
worker processes, the Ray executor, progress and fault injection.

The modules, in the order a run passes through them:

- ``suites``: named sweeps (``suites.toml``) and users' suite files, checked against one schema;
- ``planning``: names, presets and datasets resolved into ``RunSpec`` objects (``spec``), with the
  ``--set`` overrides of ``overrides`` (checked against the stainer's declared parameters) and the
  seeds, device and time cap checked by ``options`` first;
- ``sweep``: claiming each run and running it in its own process (``processes``, ``preloaded``)
  or as a Ray task (``ray_executor``), with live ``progress``;
- ``execute``: one run without a database: fit, predict, ``output_checks``, score; its files
  (``artifacts``, ``checkpoint``, ``sample_grid``);
- ``record``: what every stored run records (``provenance``) and how an unfinished run ended;
- ``faults``: fault injection for tests (``VBENCH_FAULT``).
"""

from importlib import import_module

# name -> module of this package. Loaded on first use (PEP 562), so that importing one module of
# the package (the store imports ``spec``) does not import the sweep and everything it needs.
_EXPORTS = {
    "plan": "planning",
    "plan_suite": "planning",
    "split_stainer": "planning",
    "INTERRUPTED": "record",
    "end_run": "record",
    "record_external": "record",
    "run_fields": "record",
    "run_provenance": "record",
    "RunSpec": "spec",
    "run_key": "spec",
    "stainer_label": "spec",
    "Suite": "suites",
    "load_suite": "suites",
    "Outcome": "sweep",
    "claim_run": "sweep",
    "run_sweep": "sweep",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vbench.run' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
