"""Running one platform for one district and day through Dagster, and summarising the run.

The command line and the tests share this: every import, sync or replay runs on the same
Dagster instance the UI reads (DAGSTER_HOME), so a command-line run shows up in the UI
with its checks, metadata and logs.
"""

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from edassets.adapters.http.redaction import redact_text
from edassets.adapters.spec import FeedSpec, PlatformSpec
from edassets.assets.factory import asset_key
from edassets.assets.partitions import districts_partitions_name, partition_key
from edassets.checks.gates import FILE_LEDGER_CHECK, GATE_CHECK, LEDGER_CHECK
from edassets.definitions import build_definitions, job_name
from edassets.handoffs import FeedLedger
from edassets.platforms import platform
from edassets.resources.districts import (
    District,
    DistrictRegistry,
    RegistryError,
    normalize_district_id,
    onboarding_entry,
    validate_district,
)
from edassets.resources.warehouse import upgrade_schema
from edassets.settings import Settings

_DAGSTER_YAML = """\
# Written by the edassets command line: the embedded default instance (SQLite storage).
telemetry:
  enabled: false
"""


def prepare_instance_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at the embedded instance unless the user chose one."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML, encoding="utf-8")
    return home


_UNUSUAL_NOTES = ("empty file", "header only", "fallback", "utf-16", "utf-32")


@dataclass(frozen=True)
class FeedSummary:
    """One feed's outcome in one run: its ledger, its status and where its report is.

    Attributes:
        feed: the feed.
        ledger: its record ledger (counts only).
        report: the per-record report (quarantined, duplicate, not applicable), if written.
        status: "ok", "absent", "BLOCKED by data quality gate", "blocked upstream",
            "failed" or "not run".
        detail: why, for every status but "ok" (one line, no record values).
        notes: what the parse stage said about each file read (records, encoding, empty).
    """

    feed: str
    ledger: FeedLedger
    report: str | None
    status: str
    detail: str = ""
    notes: tuple[str, ...] = ()

    @property
    def received(self) -> int:
        """Records received."""
        return self.ledger.received

    @property
    def loaded(self) -> int:
        """Records written (new, updated or unchanged)."""
        return self.ledger.inserted + self.ledger.updated + self.ledger.unchanged

    @property
    def quarantined(self) -> int:
        """Records held back with reasons."""
        return self.ledger.quarantined

    @property
    def deactivated(self) -> int:
        """Warehouse rows deactivated: tombstones received plus rows a snapshot no longer has."""
        return self.ledger.tombstones + self.ledger.deactivated_missing

    def line(self) -> str:
        """One human line, no record values (they can be student PII)."""
        status = self.status + (f": {self.detail}" if self.detail else "")
        report = f"  report: {self.report}" if self.report else ""
        # Only what is out of the ordinary: a file that brought nothing, or a legacy encoding.
        unusual = [note for note in self.notes if any(flag in note for flag in _UNUSUAL_NOTES)]
        notes = "".join(f"\n      {note}" for note in unusual)
        return f"  {self.feed:<20} {status}  [{self.ledger.line()}]{report}{notes}"


@dataclass(frozen=True)
class ImportOutcome:
    """What a run did, feed by feed, what became of the files, and why the run failed if it did."""

    platform: str
    partition: str
    feeds: list[FeedSummary]
    failure: str | None
    files: str = ""


def run_platform(
    platform_name: str,
    district: str,
    day: str,
    *,
    paths: Sequence[str] = (),
    replay: bool = False,
    timezone: str | None = None,
    onboard: bool = True,
    settings: Settings | None = None,
    instance: dg.DagsterInstance | None = None,
) -> ImportOutcome:
    """Run a platform's asset graph for one district and day through Dagster.

    The district is checked against the registry before anything runs. A district new to
    the platform gets its partition before the run and its registry entry after a run
    that did not fail.

    Args:
        platform_name: registered platform.
        district: district id (normalised to [a-z0-9_-]).
        day: delivery date, YYYY-MM-DD.
        paths: file-drop platforms: files, folders or zips the district handed over
            (empty: the district's dropbox folder). API platforms fetch instead.
        replay: rebuild parsed → loaded from the archive without fetching or reading files.
        timezone: IANA zone for a district not yet registered.
        onboard: whether a district not registered for the platform may be added (False,
            and always for a replay, which has no archive to rebuild from: it is refused).
        settings: installation settings (default: from the environment).
        instance: Dagster instance to run on (default: the one DAGSTER_HOME names).

    Raises:
        KeyError: unknown platform.
        RegistryError: the district is disabled by an invalid registry entry, its new entry
            would be invalid (a bad time zone), or it is not registered and `onboard` is False.
    """
    settings = settings or Settings.from_env()
    spec = platform(platform_name)
    district_id = normalize_district_id(district)
    if instance is None:
        prepare_instance_home(settings)
        instance = dg.DagsterInstance.get()
    onboarding = _register(spec, district, district_id, timezone, onboard and not replay, settings, instance)
    upgrade_schema(settings.warehouse_url)

    absolute = [str(Path(p).resolve()) for p in paths]
    run_config: dict[str, object] = {
        # The summary is printed at the end; step-by-step logs are in the UI.
        "loggers": {"console": {"config": {"log_level": os.environ.get("EDASSETS_LOG_LEVEL", "CRITICAL")}}},
    }
    if spec.delivery == "file_drop" and not replay:
        run_config["ops"] = {asset_key(spec.name, "raw", f.name).to_python_identifier(): {"config": {"paths": absolute}}
                             for f in spec.feeds}
    selection = None
    if replay:
        selection = [asset_key(spec.name, stage, f.name) for f in spec.feeds for stage in ("parsed", "validated", "loaded")]
    key = str(partition_key(district_id, day))
    # The run sees the entry being onboarded (its time zone is needed to parse) before the file has it.
    job = dg.build_reconstructable_job(__name__, platform_job.__name__, reconstructable_kwargs={
        "platform_name": spec.name, "environ": settings.as_env(),
        "onboarding": onboarding_entry(onboarding) if onboarding else "",
    })
    tags = job.get_definition().get_tags_for_partition_key(key, selection)
    # Not `execute_in_process`: it keeps every step's output in memory until the run ends
    # (to serve `output_for_node`), which doubled the peak of a 200,000-user import to 2 GB.
    result = dg.execute_job(job, instance=instance, run_config=run_config, tags=tags, asset_selection=selection,
                            raise_on_error=False)
    outcome = _summarize(spec, key, result)
    # Persisted only after a run that did not fail: a first run that fails is most often a
    # mistyped district or the wrong platform or files, and an entry written for it would
    # stay in the registry (and the onboarding sensor) for good. A run the quality gate
    # blocked did not fail: its district is real and its quarantine must stay reachable.
    if onboarding is not None and outcome.failure is None:
        # Re-read: an operator may have edited the file while the run went on.
        DistrictRegistry.load(settings.registry_path).with_district(onboarding).save(settings.registry_path)
    return outcome


def platform_job(platform_name: str, environ: dict[str, str], *, onboarding: str = "") -> dg.JobDefinition:
    """The job `run_platform` executes, rebuilt by Dagster from these JSON-safe arguments.

    Args:
        platform_name: registered platform.
        environ: the installation's settings (`Settings.as_env`).
        onboarding: registry entry (YAML) of the district the run onboards, if any.
    """
    return _cached_job(platform_name, tuple(sorted(environ.items())), onboarding)


@functools.lru_cache(maxsize=8)
def _cached_job(platform_name: str, environ: tuple[tuple[str, str], ...], onboarding: str) -> dg.JobDefinition:
    # Dagster rebuilds a reconstructable job four times per run (plan, run, each step's
    # context): 0.3 s each without the cache, more than the whole run of a small district.
    return build_definitions(Settings.from_env(dict(environ)), onboarding=onboarding).resolve_job_def(job_name(platform_name))


def _register(spec: PlatformSpec, district: str, district_id: str, timezone: str | None, onboard: bool,
              settings: Settings, instance: dg.DagsterInstance) -> District | None:
    """Check the district against the registry, then make sure the platform has its partition.

    Returns:
        The entry to write once the run did not fail (the district, new or not, joins the
        platform), or None when the registry already has the district on the platform.

    Raises:
        RegistryError: see `run_platform`.
    """
    registry = DistrictRegistry.load(settings.registry_path)
    known = registry.get(district_id)
    entry = known or District(id=district_id, name=district, timezone=timezone or "UTC", source_id=district)
    onboarding = None
    if spec.name not in entry.platforms:
        if not onboard:
            missing = "an entry for it" if known is None else f"{spec.name} to its platforms"
            raise RegistryError(f"district {district_id} is not registered for {spec.name}: add {missing} in "
                                f"{settings.registry_path} (see README, 'The district registry'); "
                                "only `edassets import` registers a district by itself")
        roster = entry.roster_source or (spec.name if spec.roster else None)
        onboarding = replace(entry, platforms=(*entry.platforms, spec.name), roster_source=roster)
        validate_district(onboarding)
    partitions_name = districts_partitions_name(spec.name)
    if not instance.has_dynamic_partition(partitions_name, district_id):
        instance.add_dynamic_partitions(partitions_name, [district_id])
    return onboarding


def _failure_reason(error: SerializableErrorInfo) -> str:
    """The innermost message of a step failure, in one line, secrets redacted.

    Dagster wraps a step's exception as 'Error occurred while executing op "…":' with the
    real exception as its cause; the operator needs the cause.
    """
    while error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    message = (error.message or error.cls_name or "").strip()
    first_line = message.splitlines()[0] if message else "unknown error"
    # Dagster prefixes the exception's dotted class path; keep the class name, drop the path.
    head, sep, rest = first_line.partition(": ")
    if sep and "." in head and " " not in head:
        name = head.rsplit(".", 1)[1]
        first_line = rest if name in ("Failure", "BlockedByDataQuality") else f"{name}: {rest}"
    return redact_text(first_line)


_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")


def _summarize(spec: PlatformSpec, partition: str, result: dg.JobExecutionResult) -> ImportOutcome:
    metadata: dict[tuple[str, str], dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        _, stage, feed_name = materialization.asset_key.path
        metadata[(stage, feed_name)] = {k: v.value for k, v in materialization.metadata.items()}
    evaluations = [e.asset_check_evaluation_data for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    blocked = {e.asset_key.path[2]: e.description or "" for e in evaluations
               if e.check_name == GATE_CHECK and not e.passed}
    file_ledger = next((e for e in evaluations if e.check_name == FILE_LEDGER_CHECK), None)
    failed_steps = {
        e.step_key: _failure_reason(e.step_failure_data.error) for e in result.all_events
        if e.event_type_value == "STEP_FAILURE" and e.step_key and e.step_failure_data.error is not None
        and e.step_failure_data.error.cls_name != "DagsterAssetCheckFailedError"
    }
    feeds = []
    for feed in spec.feeds:
        counts = metadata.get(("loaded", feed.name)) or metadata.get(("validated", feed.name)) or {}
        parsed = metadata.get(("parsed", feed.name), {})
        ledger = FeedLedger(
            **{name: int(counts.get(name, parsed.get(name, 0)) or 0) for name in _LEDGER_COUNTS},
            # Parsed but never validated: the records wait in the archive, counted, not lost.
            held_back=int(parsed.get("received", 0)) if not counts else 0,
            loaded=("loaded", feed.name) in metadata and counts.get("sync_mode") != "absent",
        )
        validated = metadata.get(("validated", feed.name), {})
        has_report = validated.get("quarantined") or validated.get("duplicates") or validated.get("not_applicable")
        report = str(validated["quarantine_report"]) if has_report and "quarantine_report" in validated else None
        status, detail = _feed_status(spec, feed, metadata, blocked, failed_steps)
        notes = tuple(n for n in str(parsed.get("files", "")).split("; ") if n and n != "none")
        feeds.append(FeedSummary(feed.name, ledger, report, status, detail, notes))
    # A ledger that does not balance means a record or file vanished: that fails the run.
    unbalanced = [f"{e.asset_key.path[2]}: {e.check_name} does not balance ({e.description})" for e in evaluations
                  if e.check_name in (LEDGER_CHECK, FILE_LEDGER_CHECK) and not e.passed]
    crash = next(iter(failed_steps.values()), None) or ("; ".join(unbalanced) if unbalanced else None)
    files = ""
    if file_ledger is not None:
        meta: dict[str, Any] = {k: v.value for k, v in file_ledger.metadata.items()}
        ignored = meta.get("files_ignored") or {}
        files = (f"files: received {meta.get('files_received', 0)}, read {meta.get('files_read', 0)}, "
                 f"ignored {len(ignored)}" + "".join(f"\n    ignored {name}: {why}" for name, why in ignored.items()))
    return ImportOutcome(spec.name, partition, feeds, crash, files)


_LEDGER_COUNTS = ("received", "passed", "quarantined", "duplicates", "not_applicable", "inserted", "updated",
                  "unchanged", "tombstones", "deactivated_missing")


def _feed_status(spec: PlatformSpec, feed: FeedSpec, metadata: dict[tuple[str, str], dict[str, object]],
                 blocked: dict[str, str], failed_steps: dict[str, str]) -> tuple[str, str]:
    """(status, detail) of one feed: loaded, blocked by its own gate or an upstream one, failed, or not run."""
    loaded = metadata.get(("loaded", feed.name))
    if loaded is not None:
        return ("absent", "the drop says it sent nothing for this feed") if loaded.get("sync_mode") == "absent" else ("ok", "")
    if feed.name in blocked:
        return "BLOCKED by data quality gate", blocked[feed.name]
    own = next((why for step, why in failed_steps.items() if _step_feed(step) == feed.name), None)
    if own is not None:
        return "failed", own
    upstream = [other for other in blocked if other in _upstream_feeds(spec, feed)]
    if upstream:
        return "blocked upstream", f"{', '.join(upstream)} did not pass its quarantine gate"
    failed_upstream = [_step_feed(step) for step in failed_steps if _step_feed(step) in _upstream_feeds(spec, feed)]
    if failed_upstream:
        return "blocked upstream", f"{', '.join(failed_upstream)} failed"
    return "not run", "the run stopped before this feed"


def _step_feed(step_key: str) -> str:
    """The feed of a step key like `oneroster_csv__raw__persons`."""
    return step_key.rsplit("__", 1)[-1]


def _upstream_feeds(spec: PlatformSpec, feed: FeedSpec) -> set[str]:
    """Feeds of the same platform whose validated batch this feed's validation reads."""
    targets = {entity for r in feed.entity.references for entity, _ in r.targets}
    return {f.name for f in spec.feeds if f is not feed and f.entity.name in targets}


def print_outcome(outcome: ImportOutcome) -> None:
    """Print what a run did: one line per feed, the files line, and the failure if any."""
    print(f"{outcome.platform} {outcome.partition}")
    for feed in outcome.feeds:
        print(feed.line())
    if outcome.files:
        print(f"  {outcome.files}")
    if outcome.failure:
        print(f"  run failed: {outcome.failure}")
