"""The assets of the registered metrics: each metric declares the files it needs (its ``assets``),
and these functions gather them, so a disabled plugin's files disappear with its metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import PluginError, UnknownNameError, VbenchError
from .asset import Asset, status
from .install import fetch


@dataclass
class Declared:
    asset: Asset
    metrics: list[str] = field(default_factory=list)  # the metrics that declare it


def declared(metrics: Iterable) -> dict[str, Declared]:
    """Every asset the given metrics (classes or instances) declare, by asset name, with the
    metrics that need it. Two metrics may share an asset only by declaring it identically."""
    out: dict[str, Declared] = {}
    for m in metrics:
        for a in getattr(m, "assets", ()) or ():
            if not isinstance(a, Asset):
                raise PluginError(
                    f"metric {m.name!r} lists {a!r} in its `assets`; each entry must be a vbench.assets.Asset "
                    f"(name, filename, description, location, sources, sha256...)"
                )
            d = out.setdefault(a.name, Declared(a))
            if d.asset != a:
                raise PluginError(
                    f"asset {a.name!r} is declared differently by metric {d.metrics[0]!r} ({d.asset.filename}, "
                    f"sha256 {d.asset.sha256}) and by metric {m.name!r} ({a.filename}, sha256 {a.sha256}); the plugins "
                    f"that provide them must agree (switch one off with VBENCH_DISABLE_PLUGINS=NAME)"
                )
            d.metrics.append(m.name)
    return out


def metric_state(metric) -> str:
    """What `vbench metrics list` shows in its assets column for ``metric``."""
    assets = getattr(metric, "assets", ()) or ()
    if assets:
        states = {a.name: status(a).state for a in assets}
        bad = [f"{n} {s}" for n, s in states.items() if s in ("missing", "corrupt")]
        return "missing: " + ", ".join(bad) if bad else "present"
    return getattr(metric, "assets_note", "") or "none needed"


def fetch_named(
    names: list[str],
    metrics: Mapping[str, object],
    log: Callable[[str], None] = lambda m: None,
    done: Callable[[str], None] = lambda m: None,
) -> None:
    """``vbench assets fetch``: installs the named assets, or every asset of the named metrics (then
    lets each metric's library fetch what it fetches itself); no names: every missing or damaged
    asset of ``metrics`` (registered metric instances by name). ``done`` receives one line per
    installed thing; failures are reported together at the end as one VbenchError."""
    table = declared(metrics.values())
    todo: list[Asset] = []
    libraries: list[str] = []
    if not names:
        todo = [d.asset for d in table.values() if status(d.asset).state in ("missing", "corrupt")]
    for n in names:
        if n in table:
            todo.append(table[n].asset)
        elif n in metrics:
            todo += list(getattr(metrics[n], "assets", ()) or ())
            libraries.append(n)
        else:
            raise UnknownNameError("asset or metric", n, sorted(set(table) | set(metrics)))
    if not todo and not libraries:
        done("every known asset is installed")
        return
    failures = []
    for a in dict.fromkeys(todo):
        st = status(a)
        if st.state == "bundled":
            done(f"{a.name} is shipped with its plugin: {st.path}")
            continue
        try:
            path = fetch(a, log=log)
        except VbenchError as exc:  # go on with the others; report all at the end
            failures.append(str(exc))
            continue
        done(f"installed {a.name}: {path}")
    for n in libraries:
        if failures:
            break  # the library would stumble over the same missing files
        if metrics[n].fetch_library_files(log=log):
            done(f"metric {n} has its files")
        elif not getattr(metrics[n], "assets", ()):
            done(f"metric {n} needs no files")
    if failures:
        raise VbenchError("\n".join(failures))
