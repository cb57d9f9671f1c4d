"""Switchable faults: what goes wrong with real vendor APIs, on purpose and reproducibly.

A `FaultPlan` lists `Fault`s; the sandbox asks a `FaultInjector` on every data request
(an authenticated collection page or file download; token requests never count) which
faults are in effect. Two families behave differently:

* Transient faults (429 storms, token revocation, 5xx bursts, slow answers, malformed or
  truncated pages, duplicated records) trigger on every n-th matching request or with a
  probability drawn from a seeded RNG, and then last `count` consecutive requests. They
  never change the data a correct client converges to: asking again gets a clean answer.
* Persistent faults (`renamed_field`, `bad_records`) apply to every response. They change
  the data on purpose: a schema change, or corrupted records the pipeline must quarantine.
  Which records are corrupted, and how, depends only on the plan's seed and the record id
  (never on paging), so the sandbox can report exactly which records it broke.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from edassets.sandbox.emulators.base import ApiEmulator, Emulator, FileEmulator

FaultKind = Literal[
    "rate_limit_storm", "token_expiry", "server_error", "slow", "malformed_json",
    "truncated_page", "duplicate_records", "renamed_field", "bad_records",
]  # fmt: skip
BadRecordKind = Literal["missing_id", "out_of_range_score", "future_date", "dangling_reference"]
BAD_RECORD_KINDS: tuple[BadRecordKind, ...] = get_args(BadRecordKind)

FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
PERSISTENT_KINDS = frozenset({"renamed_field", "bad_records"})

# kind -> params it accepts (name -> default; None = required).
_PARAMS: Mapping[str, Mapping[str, object]] = {
    "rate_limit_storm": {"retry_after": 1},
    "token_expiry": {},
    "server_error": {"status": 503},
    "slow": {"delay_s": 2.0},
    "malformed_json": {"variant": "cut"},
    "truncated_page": {"variant": "short"},
    "duplicate_records": {"repeat": 2},
    "renamed_field": {"field": None, "renamed_to": None, "collection": ""},
    "bad_records": {"rate": None, "kinds": BAD_RECORD_KINDS, "collections": ()},
}
_CHOICES: Mapping[tuple[str, str], frozenset[object]] = {
    ("server_error", "status"): frozenset({500, 502, 503, 504}),
    ("malformed_json", "variant"): frozenset({"cut", "html"}),
    ("truncated_page", "variant"): frozenset({"short", "content_length"}),
}
_MINIMUMS: Mapping[tuple[str, str], float] = {
    ("rate_limit_storm", "retry_after"): 0,
    ("slow", "delay_s"): 0,
    ("duplicate_records", "repeat"): 1,
    ("bad_records", "rate"): 0,
}


@dataclass(frozen=True)
class Fault:
    """One switchable fault.

    Attributes:
        kind: what goes wrong.
            rate_limit_storm: 429 in the vendor's own form (`Emulator.rate_limited`: a
                `Retry-After: <retry_after>`, or a reset time now + retry_after).
            token_expiry: the access token of the request is revoked once it is answered,
                so the next page gets 401 mid-pagination (platforms whose tokens can be
                fetched again).
            server_error: `status` (500/502/503/504) instead of the answer.
            slow: the answer waits `delay_s` seconds (to trip client timeouts).
            malformed_json: status 200 with a cut JSON body (`variant="cut"`) or an HTML
                error page (`variant="html"`).
            truncated_page: `variant="short"`: half the page's records while
                X-Total-Count / Link / `next` still describe the full page;
                `variant="content_length"`: Content-Length promises more bytes than are
                sent (always this variant for file drops).
            duplicate_records: the last `repeat` records of the previous page are repeated
                at the start of this one (what offset paging does when rows shift).
            renamed_field: `field` (dotted path for nested fields, e.g. `name.first`) is renamed `renamed_to` in every record, optionally only in
                `collection`.
            bad_records: a `rate` share of records (optionally only in `collections`:
                API collections or drop file names) is corrupted with one of `kinds` (see
                `corrupt_record` and `corrupt_file`).
        platform: an emulated platform whose emulator lists the kind in `fault_kinds`, or
            `*` (every platform the kind applies to).
        every: trigger on every n-th matching request.
        probability: or trigger with this probability (seeded RNG); neither = every request.
        count: how many consecutive matching requests one trigger affects (a burst).
        params: kind-specific settings, listed under `kind`.

    Raises:
        ValueError: an unknown kind, platform or param, or a value out of range.
    """

    kind: FaultKind
    platform: str
    every: int | None = None
    probability: float | None = None
    count: int = 1
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.platform != "*" and self.platform not in _platforms_for(self.kind):
            raise ValueError(f"fault {self.kind} cannot apply to platform {self.platform!r}; "
                             f"use one of {sorted(_platforms_for(self.kind))} or '*'")
        if self.every is not None and self.probability is not None:
            raise ValueError("a fault triggers by `every` or by `probability`, not both")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be at least 1")
        if self.probability is not None and not 0 < self.probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if self.kind in PERSISTENT_KINDS and (self.every, self.probability, self.count) != (None, None, 1):
            raise ValueError(f"{self.kind} applies to every response; it takes no every/probability/count")
        object.__setattr__(self, "params", MappingProxyType(_checked_params(self.kind, self.params)))

    def applies_to(self, platform: str) -> bool:
        """Whether requests to `platform` can be affected by this fault."""
        return platform in _platforms_for(self.kind) and self.platform in ("*", platform)

    def param(self, name: str) -> Any:
        """A param's value, or its default."""
        return self.params[name]


def _platforms_for(kind: str) -> frozenset[str]:
    """The emulated platforms a fault kind makes sense for (each emulator says)."""
    from edassets.sandbox.emulators import EMULATORS  # the emulators import this module

    return frozenset(name for name, emulator in EMULATORS.items() if kind in emulator.fault_kinds)


def _checked_params(kind: str, given: Mapping[str, object]) -> dict[str, Any]:
    """`given` completed with defaults; typos and out-of-range values raise ValueError."""
    accepted = _PARAMS[kind]
    unknown = set(given) - set(accepted)
    if unknown:
        raise ValueError(f"fault {kind} does not take params {sorted(unknown)}; it takes {sorted(accepted)}")
    params: dict[str, Any] = {**accepted, **given}
    missing = [name for name, value in params.items() if value is None]
    if missing:
        raise ValueError(f"fault {kind} needs params {missing}")
    for (choice_kind, name), allowed in _CHOICES.items():
        if choice_kind == kind and params[name] not in allowed:
            raise ValueError(f"fault {kind}: {name} must be one of {sorted(map(str, allowed))}")
    for (number_kind, name), minimum in _MINIMUMS.items():
        value = params.get(name)
        if number_kind == kind and not (isinstance(value, int | float) and value >= minimum):
            raise ValueError(f"fault {kind}: {name} must be a number of at least {minimum}")
    if kind == "bad_records":
        if params["rate"] > 1:
            raise ValueError("bad_records: rate must be in [0, 1]")
        params["kinds"] = tuple(params["kinds"])
        if not params["kinds"] or set(params["kinds"]) - set(BAD_RECORD_KINDS):
            raise ValueError(f"bad_records: kinds must be a non-empty subset of {list(BAD_RECORD_KINDS)}")
        params["collections"] = frozenset(params["collections"])
    return params


@dataclass(frozen=True)
class FaultPlan:
    """The faults a sandbox run injects.

    Attributes:
        faults: the faults, checked in order (the first active fault of a kind wins).
        seed: seeds the probability draws and the choice of corrupted records.
    """

    faults: tuple[Fault, ...] = ()
    seed: int = 5


@dataclass(frozen=True)
class ActiveFaults:
    """The faults in effect for one request."""

    faults: tuple[Fault, ...] = ()

    def get(self, kind: FaultKind) -> Fault | None:
        """The first active fault of `kind`, if any."""
        return next((f for f in self.faults if f.kind == kind), None)


class FaultInjector:
    """Decides, request by request, which faults of a plan are in effect. Thread-safe.

    Each fault counts the matching requests it has seen; a trigger (every n-th request,
    or a draw from the fault's own seeded RNG, so adding a fault never shifts another's
    draws) opens a burst of `count` requests.
    """

    def __init__(self, plan: FaultPlan) -> None:
        """Start counting from zero for `plan`."""
        self._plan = plan
        self._lock = threading.Lock()
        self._seen = [0] * len(plan.faults)
        self._burst_left = [0] * len(plan.faults)
        self._rngs = [random.Random(f"{plan.seed}/{i}") for i in range(len(plan.faults))]

    def draw(self, platform: str) -> ActiveFaults:
        """Count one data request to `platform` and return the faults in effect for it."""
        active: list[Fault] = []
        with self._lock:
            for i, fault in enumerate(self._plan.faults):
                if not fault.applies_to(platform):
                    continue
                self._seen[i] += 1
                if self._burst_left[i] > 0:
                    self._burst_left[i] -= 1
                elif self._triggers(i, fault):
                    self._burst_left[i] = fault.count - 1
                else:
                    continue
                active.append(fault)
        return ActiveFaults(tuple(active))

    def persistent(self, platform: str) -> ActiveFaults:
        """The persistent faults (`PERSISTENT_KINDS`) applying to `platform`, without counting a request.

        What a file drop rendered outside a request (a folder written for an import) suffers.
        """
        return ActiveFaults(tuple(f for f in self._plan.faults if f.kind in PERSISTENT_KINDS and f.applies_to(platform)))

    def _triggers(self, i: int, fault: Fault) -> bool:
        if fault.every is not None:
            return self._seen[i] % fault.every == 0
        if fault.probability is not None:
            return self._rngs[i].random() < fault.probability
        return True


# --- record transforms (pure) -------------------------------------------------------------

def _digest(seed: int, platform: str, collection: str, record_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x1f{platform}\x1f{collection}\x1f{record_id}".encode()).digest()


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested record, or None where the path leads nowhere."""
    node: Any = record
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _has(record: Mapping[str, Any], path: str) -> bool:
    parent, _, leaf = path.rpartition(".")
    node = get_path(record, parent) if parent else record
    return isinstance(node, Mapping) and leaf in node


def _edit(record: Mapping[str, Any], path: str, edit: Callable[[dict[str, Any], str], None]) -> dict[str, Any]:
    """A copy of `record` with `edit(parent, key)` applied at `path`; the original is untouched.

    Only the dicts on the path are copied: the sandbox caches rendered records and serves
    them to every request, so a fault must never write into them.
    """
    *parents, leaf = path.split(".")
    root = dict(record)
    node = root
    for key in parents:
        node[key] = dict(node[key])
        node = node[key]
    edit(node, leaf)
    return root


def _target(emulator: type[Emulator], collection: str, record: Mapping[str, Any], kind: str) -> str | None:
    """The field path `kind` would corrupt in this record, or None if it has none."""
    candidates = emulator.bad_record_targets.get(kind, {}).get(collection, ())
    return next((p for p in candidates if get_path(record, p) not in (None, "", [], {})), None)


def _dangle(value: Any, ghost: str) -> Any:
    """`value` (an id, a GUIDRef `{href, sourcedId, type}` or a list of them) pointing at `ghost`."""
    if isinstance(value, list):
        return [_dangle(value[0], ghost), *value[1:]]
    if isinstance(value, Mapping):
        ref = dict(value)
        if "href" in ref:
            ref["href"] = str(ref["href"]).rsplit("/", 1)[0] + "/" + ghost
        ref["sourcedId"] = ghost
        return ref
    return ghost


def _future(value: str) -> str:
    """The same date a hundred years later, in the same format (`YYYY-MM-DD` or Clever's `M/D/YYYY`)."""
    if "/" in value:
        month, day, year = (int(part) for part in value.split("/"))
    else:
        year, month, day = (int(part) for part in value[:10].split("-"))
    try:
        shifted = date(year + 100, month, day)
    except ValueError:  # 29 February into a year that is not a leap year
        shifted = date(year + 100, month, 28)
    if "/" in value:
        return f"{shifted.month}/{shifted.day}/{shifted.year}"
    return shifted.isoformat() + value[10:]


def _defect(record: Mapping[str, Any], *, emulator: type[Emulator], collection: str, record_id: str, fault: Fault,
            seed: int) -> tuple[Mapping[str, Any], BadRecordKind | None]:
    """The record with the defect (seed, platform, collection, record id) picks, if the fault picks it."""
    collections = fault.param("collections")
    if collections and collection not in collections:
        return record, None
    digest = _digest(seed, emulator.platform, collection, record_id)
    if int.from_bytes(digest[:8]) / 2**64 >= fault.param("rate"):
        return record, None
    kinds: Sequence[BadRecordKind] = fault.param("kinds")
    applicable = [(k, p) for k in kinds if (p := _target(emulator, collection, record, k)) is not None]
    if not applicable:
        return record, None
    kind, path = applicable[digest[8] % len(applicable)]

    def edit(parent: dict[str, Any], key: str) -> None:
        if kind == "missing_id":
            parent[key] = ""
        elif kind == "out_of_range_score":
            parent[key] = ["14"] if isinstance(parent[key], list) else "14"
        elif kind == "future_date":
            parent[key] = _future(str(parent[key]))
        else:
            parent[key] = _dangle(parent[key], emulator.ghost_id(digest))

    return _edit(record, path, edit), kind


def corrupt_record(record: Mapping[str, Any], *, emulator: type[ApiEmulator], collection: str, fault: Fault,
                   seed: int) -> tuple[Mapping[str, Any], BadRecordKind | None]:
    """Apply a `bad_records` fault to one API record.

    Whether the record is corrupted, and how, depends only on (seed, platform, collection,
    record id): the same record is broken the same way on every page, page size and sync.

    Defects (where they go, each emulator's `bad_record_targets` says):
        missing_id: the id is emptied.
        out_of_range_score: a value of 14, past the top of its scale.
        future_date: a date a hundred years later, in the same format.
        dangling_reference: a reference to a record that does not exist (`Emulator.ghost_id`).

    Args:
        record: the record as rendered (not modified).
        emulator: the platform's emulator.
        collection: the collection the record is served from.
        fault: the `bad_records` fault.
        seed: the plan's seed.

    Returns:
        The record to serve and the defect injected (None: the record is served as is).
    """
    record_id = str(get_path(record, emulator.id_field) or "")
    return _defect(record, emulator=emulator, collection=collection, record_id=record_id, fault=fault, seed=seed)


@dataclass(frozen=True)
class InjectedRecord:
    """A record a `bad_records` fault corrupted.

    Attributes:
        collection: the API collection or drop file.
        record_id: the record's real id (also when the defect emptied it).
        served_id: the id as served (differs where the defect touched the id's parts).
        kind: the defect.
    """

    collection: str
    record_id: str
    served_id: str
    kind: BadRecordKind


def corrupt_file(data: bytes, *, emulator: type[FileEmulator], name: str, fault: Fault, seed: int
                 ) -> tuple[bytes, list[InjectedRecord]]:
    """Apply a `bad_records` fault to the rows of one CSV file of a drop (`corrupt_record`'s defects).

    Only rows a defect picks are rewritten, in the vendor's quoting (`FileEmulator.quote_all`);
    every other line keeps its bytes. Files without `record_keys` are left alone.

    Returns:
        The file as served, and the records corrupted.
    """
    keys = emulator.record_keys.get(name)
    if keys is None or (fault.param("collections") and name not in fault.param("collections")):
        return data, []
    lines = data.decode("utf-8").split("\n")
    header = next(csv.reader([lines[0]]))
    quoting: Literal[0, 1] = csv.QUOTE_ALL if emulator.quote_all else csv.QUOTE_MINIMAL
    injected: list[InjectedRecord] = []
    for i in range(1, len(lines)):
        if not lines[i]:
            continue
        row = dict(zip(header, next(csv.reader([lines[i]])), strict=False))
        record_id = ":".join(row.get(column, "") for column in keys)
        served, kind = _defect(row, emulator=emulator, collection=name, record_id=record_id, fault=fault, seed=seed)
        if kind is None:
            continue
        out = io.StringIO()
        csv.writer(out, quoting=quoting, lineterminator="").writerow([served.get(column, "") for column in header])
        lines[i] = out.getvalue()
        injected.append(InjectedRecord(name, record_id, ":".join(str(served.get(c, "")) for c in keys), kind))
    return "\n".join(lines).encode("utf-8"), injected


def rename_field(record: Mapping[str, Any], fault: Fault, collection: str) -> Mapping[str, Any]:
    """Apply a `renamed_field` fault: the field keeps its place and value under its new name.

    Args:
        record: the record as rendered (not modified).
        fault: the `renamed_field` fault.
        collection: the collection the record is served from.

    Returns:
        The renamed record, or `record` itself when the fault does not concern it.
    """
    path: str = fault.param("field")
    only = fault.param("collection")
    if (only and only != collection) or not _has(record, path):
        return record
    renamed_to: str = fault.param("renamed_to")

    def edit(parent: dict[str, Any], key: str) -> None:
        items = [(renamed_to if k == key else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)

    return _edit(record, path, edit)
