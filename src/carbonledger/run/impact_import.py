"""An Impact Framework output manifest (what ``if-run`` writes) as estimated runs.

Each leaf of the manifest's tree that the Framework computed (it has ``outputs``) becomes one
finished run, labelled estimated: its energy from the observations' component energies
(``cpu/energy``, ``gpu/energy``, ``memory/energy``, ``npu/energy``, ``soc/energy``, kWh of IT
energy), else their ``it/energy``, else their ``energy`` (recorded as one part that cannot be
split, ``soc``); the facility's PUE from ``pue`` (the energy-weighted mean; 1 when the manifest
gives none, said so); the grid intensity from the Framework's own ``carbon-operational`` over
the facility energy, else the observations' ``grid/carbon-intensity`` (energy-weighted), else
the place given on the command line; the embodied carbon from ``carbon-embodied`` (or
``embodied-carbon``), summed. So the run's CO2e in the ledger is the Framework's
``carbon-operational``, and its embodied share the Framework's.

The runs are written through the ledger's public write path (:meth:`Ledger.record` with
``RunOpened``, ``MemberJoined`` and ``MemberFinished``), signed by this writer's key; a run
already imported (same manifest, leaf and first observation) is skipped.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError
from carbonledger.models import Component, ComponentEnergy
from carbonledger.units import kwh_to_j

if TYPE_CHECKING:
    from carbonledger.accounting import CarbonContext

__all__ = ["ImpactRun", "Imported", "import_runs", "parse_output"]

#: the Framework's parameter of each component's IT energy (kWh)
COMPONENT_PARAMETERS: dict[str, Component] = {
    "cpu/energy": "cpu",
    "gpu/energy": "gpu",
    "memory/energy": "ram",
    "npu/energy": "npu",
    "soc/energy": "soc",
}
_EMBODIED = ("carbon-embodied", "embodied-carbon")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ImpactRun:
    """One computed leaf of an output manifest, summed over its observations."""

    path: str
    run_id: str
    started_unix_s: float
    finished_unix_s: float
    observations: int
    #: IT energy per component, J
    energy_j: dict[Component, float]
    #: where the energy comes from (the parameter names read)
    #: the parameter each component's energy was read from
    energy_source: dict[Component, str]
    pue: float
    pue_source: str
    #: gCO2e/kWh of facility energy, and its source (None: not in the manifest)
    intensity_g_per_kwh: float | None
    intensity_source: str
    embodied_g: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return self.finished_unix_s - self.started_unix_s


def _time_s(value: Any, where: str) -> float:
    """An observation's ``timestamp`` as unix seconds (ISO 8601 text; UTC unless it says)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"{where}: timestamp {value!r} is not an ISO 8601 time") from None
    else:
        raise InputError(f"{where}: every observation needs a timestamp, got {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _number(obs: Mapping[str, Any], name: str, where: str) -> float | None:
    """The observation's ``name`` as a finite number >= 0, None when absent."""
    if name not in obs or obs[name] is None:
        return None
    value = obs[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {name} must be a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise InputError(f"{where}: {name} must be a finite number >= 0, got {value!r}")
    return number


#: the most nodes of a manifest's tree read (YAML aliases can make a small file a huge tree)
MAX_TREE_NODES = 100_000


def _leaves(node: Mapping[str, Any], path: tuple[str, ...]) -> list[tuple[str, Mapping[str, Any]]]:
    """The tree's leaves, depth first, with their paths; an InputError past
    :data:`MAX_TREE_NODES` nodes or 100 levels."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    seen = 0
    stack = [(node, path)]
    while stack:
        node, path = stack.pop()
        seen += 1
        if seen > MAX_TREE_NODES or len(path) > 100:
            raise InputError(
                f"the manifest's tree is larger than {MAX_TREE_NODES:,} nodes or 100 levels; "
                "import it in parts"
            )
        children = node.get("children")
        if isinstance(children, Mapping) and children:
            stack.extend(
                (child, (*path, str(name)))
                for name, child in reversed(list(children.items()))
                if isinstance(child, Mapping)
            )
        else:
            out.append(("/".join(path), node))
    return out


def _run_id(manifest: str, path: str, first_s: float) -> str:
    leaf = _SLUG.sub("-", path.rsplit("/", 1)[-1]).strip("-")[:80] or "leaf"
    digest = hashlib.sha256(f"{manifest}\n{path}\n{first_s!r}".encode()).hexdigest()[:12]
    return f"if-{leaf}-{digest}"


def _leaf_run(manifest: str, path: str, outputs: Sequence[Any]) -> ImpactRun:
    energy: dict[Component, float] = {}
    sources: dict[Component, set[str]] = {}
    used: set[str] = set()
    it_kwh = facility_kwh = operational_g = weighted_intensity = 0.0
    embodied_g: float | None = None
    pue_given = intensity_given = operational_given = False
    starts, ends = [], []
    for i, obs in enumerate(outputs):
        where = f"{path}, observation {i + 1}"
        if not isinstance(obs, Mapping):
            raise InputError(f"{where}: an observation must be a mapping of parameters")
        start = _time_s(obs.get("timestamp"), where)
        duration = _number(obs, "duration", where)
        if duration is None:
            raise InputError(f"{where}: every observation needs a duration (seconds)")
        starts.append(start)
        ends.append(start + duration)
        parts = {
            comp: value
            for name, comp in COMPONENT_PARAMETERS.items()
            if (value := _number(obs, name, where)) is not None
        }
        used.update(n for n, c in COMPONENT_PARAMETERS.items() if c in parts)
        read = {c: n for n, c in COMPONENT_PARAMETERS.items() if c in parts}
        pue = _number(obs, "pue", where)
        if pue is not None and pue < 1:
            raise InputError(f"{where}: pue must be 1 or more, got {pue:g}")
        pue_given = pue_given or pue is not None
        if not parts:
            it = _number(obs, "it/energy", where)
            if it is not None:
                parts, used, read = {"soc": it}, used | {"it/energy"}, {"soc": "it/energy"}
            else:
                total = _number(obs, "energy", where)
                if total is None:
                    raise InputError(
                        f"{where}: no energy (cpu/energy, gpu/energy, memory/energy, it/energy "
                        "or energy, kWh): nothing to record"
                    )
                # the Framework's energy is what the grid supplied: IT energy is energy / PUE
                parts, used = {"soc": total / (pue if pue is not None else 1.0)}, used | {"energy"}
                read = {"soc": "energy / pue" if pue is not None else "energy"}
        obs_it = sum(parts.values())
        obs_facility = obs_it * (pue if pue is not None else 1.0)
        for comp, kwh in parts.items():
            energy[comp] = energy.get(comp, 0.0) + kwh_to_j(kwh)
            sources.setdefault(comp, set()).add(read[comp])
        it_kwh += obs_it
        facility_kwh += obs_facility
        carbon = _number(obs, "carbon-operational", where)
        intensity = _number(obs, "grid/carbon-intensity", where)
        if carbon is not None:
            operational_given = True
            operational_g += carbon
        elif intensity is not None:
            operational_g += obs_facility * intensity
        if intensity is not None:
            intensity_given = True
            weighted_intensity += obs_facility * intensity
        for name in _EMBODIED:
            value = _number(obs, name, where)
            if value is not None:
                embodied_g = (embodied_g or 0.0) + value
                break
    notes = []
    if "energy" in used or "it/energy" in used:
        notes.append(
            "the manifest gives the energy as one total: recorded as one part (soc) that "
            "cannot be split into CPU, GPU and memory"
        )
    pue_run = facility_kwh / it_kwh if it_kwh > 0 and pue_given else 1.0
    pue_source = (
        f"Impact Framework output: pue of the observations (energy-weighted mean {pue_run:.6g})"
        if pue_given
        else "not in the manifest: the energy is taken as drawn from the grid (PUE 1)"
    )
    intensity_run: float | None = None
    intensity_source = ""
    if operational_given and facility_kwh > 0:
        intensity_run = operational_g / facility_kwh
        intensity_source = (
            f"Impact Framework output: carbon-operational / facility energy over "
            f"{len(outputs)} observation(s) of {manifest}"
        )
    elif intensity_given and facility_kwh > 0:
        intensity_run = weighted_intensity / facility_kwh
        intensity_source = (
            f"Impact Framework output: grid/carbon-intensity, energy-weighted over "
            f"{len(outputs)} observation(s) of {manifest}"
        )
    first = min(starts)
    return ImpactRun(
        path=path,
        run_id=_run_id(manifest, path, first),
        started_unix_s=first,
        finished_unix_s=max(ends),
        observations=len(outputs),
        energy_j=energy,
        energy_source={c: ", ".join(sorted(names)) for c, names in sources.items()},
        pue=pue_run,
        pue_source=pue_source,
        intensity_g_per_kwh=intensity_run,
        intensity_source=intensity_source,
        embodied_g=embodied_g,
        notes=tuple(notes),
    )


def parse_output(text: str, where: str) -> tuple[str, list[ImpactRun]]:
    """The manifest's name and its computed leaves (``where`` names the file in errors).
    A manifest the Framework has not computed (no leaf has outputs) is an InputError."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except RecursionError:
        raise InputError(f"{where} is nested too deeply to be a manifest") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", "") or exc).split())
        at = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: "
        raise InputError(f"{where} is not valid YAML: {at}{problem}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tree"), Mapping):
        raise InputError(f"{where} is not an Impact Framework manifest (no tree)")
    name = str(doc.get("name") or where)
    runs = []
    for path, node in _leaves(doc["tree"], ()):
        outputs = node.get("outputs")
        if isinstance(outputs, list) and outputs:
            runs.append(_leaf_run(name, path or "tree", outputs))
    if not runs:
        raise InputError(
            f"{where} has no computed outputs: run the Framework on it first "
            "(if-run -m manifest.yml -o out) and import out.yaml"
        )
    return name, runs


@dataclass(frozen=True)
class Imported:
    """What an import did: the runs written, and those skipped (already in the ledger)."""

    run_ids: tuple[str, ...]
    skipped: tuple[str, ...]


def import_runs(
    name: str,
    runs: Sequence[ImpactRun],
    target: str | None,
    context: CarbonContext,
    *,
    project: str = "impact-framework",
    source: str = "",
) -> Imported:
    """Write each of ``runs`` as a finished, estimated run in the ledger ``target`` (the
    default ledger when None). ``context`` gives the place, and the intensity where the
    manifest has none. A run already in the ledger is skipped."""
    from carbonledger.accounting import EmbodiedCarbon
    from carbonledger.events import MemberFinished, MemberJoined, RunOpened
    from carbonledger.ledger import open_ledger
    from carbonledger.models import MemberRecord, RunRecord, check_name_length
    from carbonledger.run.membership import new_id

    experiment = name[:200]
    check_name_length(project, "project")
    now_s = [0.0]  # the ledger's clock: the observations' own times, not the import's
    ledger = open_ledger(target, clock=lambda: now_s[0])
    done: list[str] = []
    skipped: list[str] = []
    try:
        known = set(ledger.iter_run_ids())
        for run in runs:
            if run.run_id in known:
                skipped.append(run.run_id)
                continue
            duration = run.duration_s
            components = tuple(
                ComponentEnergy(
                    comp,
                    f"impact-framework:{comp}",
                    f"Impact Framework output ({run.energy_source[comp]})",
                    False,
                    joules,
                    duration,
                )
                for comp, joules in sorted(run.energy_j.items())
            )
            intensity, intensity_source = context.intensity_g_per_kwh, context.intensity_source
            if run.intensity_g_per_kwh is not None:
                intensity, intensity_source = run.intensity_g_per_kwh, run.intensity_source
            meta: dict[str, Any] = {
                "estimated": True,
                "source": "impact-framework",
                "impact_framework": {"manifest": name, "file": source, "leaf": run.path,
                                     "observations": run.observations},
                "notes": list(run.notes),
                "run_id_source": "impact-framework",
                "market_g_per_kwh": context.market_g_per_kwh,
            }  # fmt: skip
            if run.embodied_g is not None:
                meta["embodied"] = EmbodiedCarbon(
                    run.embodied_g, "Impact Framework output: carbon-embodied, summed"
                ).to_dict()
            if context.water is not None:
                meta["water"] = context.water.to_dict()
            if context.price is not None:
                meta["electricity_price"] = context.price.to_dict()
            record = RunRecord(
                run.run_id, project, experiment, run.started_unix_s, "impact-framework",
                context.location, context.location_source, intensity, intensity_source,
                run.pue, run.pue_source, tags={"imported": "impact-framework"}, meta=meta,
            )  # fmt: skip
            member = MemberRecord(new_id(), run.run_id, "", 0, run.started_unix_s)
            now_s[0] = run.finished_unix_s
            ledger.record(
                run.run_id,
                [RunOpened(record), MemberJoined(member, 60.0),
                 MemberFinished("completed", components, run.finished_unix_s)],
                member_id=member.member_id,
                time_unix_s=run.finished_unix_s,
            )  # fmt: skip
            done.append(run.run_id)
    finally:
        ledger.close()
    return Imported(tuple(done), tuple(skipped))
