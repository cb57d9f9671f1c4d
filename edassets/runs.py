"""Running one platform for one district and day through Dagster, and summarising the run.

The command line and the tests share this: every import, sync or replay runs on the same
Dagster instance the UI reads (DAGSTER_HOME), so a command-line run shows up in the UI
with its checks, metadata and logs.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg

from edassets.adapters.spec import PlatformSpec
from edassets.assets.factory import asset_key
from edassets.assets.partitions import districts_partitions_name, partition_key
from edassets.definitions import build_definitions, job_name
from edassets.platforms import platform
from edassets.resources.districts import (
    District,
    DistrictRegistry,
    DistrictRegistryResource,
    RegistryError,
    normalize_district_id,
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


@dataclass(frozen=True)
class FeedSummary:
    """One feed's outcome in one import."""

    feed: str
    received: int
    loaded: int
    quarantined: int
    deactivated: int
    report: str | None
    status: str

    def line(self) -> str:
        """One human line, no record values (they can be student PII)."""
        report = f"  report: {self.report}" if self.report and self.quarantined else ""
        return (f"  {self.feed:<20} received {self.received:>7}  loaded {self.loaded:>7}  "
                f"quarantined {self.quarantined:>6}  deactivated {self.deactivated:>6}  {self.status}{report}")


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, feed by feed, and why a run failed if it did."""

    platform: str
    partition: str
    feeds: list[FeedSummary]
    failure: str | None


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

    job = build_definitions(settings).resolve_job_def(job_name(spec.name))
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
    key = partition_key(district_id, day)
    # The run sees the entry being onboarded (its time zone is needed to parse) before the file has it.
    # Only then is the resource replaced: Dagster refuses a replaced resource with an asset selection.
    resources = {"districts": DistrictRegistryResource.onboarding_run(settings.registry_path, onboarding)} if onboarding else None
    result = job.execute_in_process(run_config=run_config, instance=instance, partition_key=key,
                                    asset_selection=selection, raise_on_error=False, resources=resources)
    outcome = _summarize(spec, str(key), result)
    # Persisted only after a run that did not fail: a first run that fails is most often a
    # mistyped district or the wrong platform or files, and an entry written for it would
    # stay in the registry (and the onboarding sensor) for good. A run the quality gate
    # blocked did not fail: its district is real and its quarantine must stay reachable.
    if onboarding is not None and outcome.failure is None:
        # Re-read: an operator may have edited the file while the run went on.
        DistrictRegistry.load(settings.registry_path).with_district(onboarding).save(settings.registry_path)
    return outcome


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


def _summarize(spec: PlatformSpec, partition: str, result: dg.ExecuteInProcessResult) -> ImportOutcome:
    metadata: dict[tuple[str, str], dict[str, object]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        _, stage, feed = materialization.asset_key.path
        metadata[(stage, feed)] = {k: v.value for k, v in materialization.metadata.items()}
    blocked = {
        e.asset_check_evaluation_data.asset_key.path[2]
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity.value == "ERROR"
    }
    failures = [
        e.step_failure_data.error for e in result.all_events
        if e.event_type_value == "STEP_FAILURE" and e.step_failure_data.error is not None
    ]
    crash = next((f for f in failures if f.cls_name != "DagsterAssetCheckFailedError"), None)

    feeds = []
    for feed in spec.feeds:
        validated = metadata.get(("validated", feed.name), {})
        loaded = metadata.get(("loaded", feed.name))
        if loaded is not None:
            status = "ok" if loaded.get("sync_mode") != "absent" else "absent"
        elif feed.name in blocked:
            status = "BLOCKED by data quality gate"
        else:
            status = "not loaded"
        feeds.append(FeedSummary(
            feed=feed.name,
            received=int(validated.get("received", 0)),
            loaded=int(loaded.get("dagster/row_count", 0)) if loaded else 0,
            quarantined=int(validated.get("quarantined", 0)),
            deactivated=int(loaded.get("deactivated", 0)) if loaded else 0,
            report=str(validated["quarantine_report"]) if "quarantine_report" in validated else None,
            status=status,
        ))
    failure = None
    if crash is not None:
        # Dagster's message starts with the exception's dotted class path; the reason is after it.
        first_line = (crash.message or crash.cls_name).strip().splitlines()[0]
        failure = first_line.split(": ", 1)[1] if first_line.startswith(("dagster.", "edassets.")) and ": " in first_line else first_line
    return ImportOutcome(spec.name, partition, feeds, failure)


def print_outcome(outcome: ImportOutcome) -> None:
    print(f"{outcome.platform} {outcome.partition}")
    for feed in outcome.feeds:
        print(feed.line())
    if outcome.failure:
        print(f"  run failed: {outcome.failure}")


