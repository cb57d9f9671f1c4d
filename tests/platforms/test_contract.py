"""The platform contract: every registered platform and feed, against the sandbox, for free.

Registering a platform in `edassets.platforms.PLATFORMS` is enough to put it through this
suite: its mapping must fit its entity, every vendor field it names must exist in what the
sandbox serves for it, a clean fixture must parse and validate without a single rejection,
its module must stay declarative, and its incremental cursors may only move with a
committed load. Fixtures (one small world, one server) live in `conftest.py`.
"""

import ast
import importlib
import io
import pkgutil
import tokenize
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

import edassets.platforms
from edassets.adapters.csv_files import CsvTable, read_csv_text
from edassets.adapters.json_records import read_json_pages
from edassets.adapters.pages import feed_endpoints, pages_of
from edassets.adapters.spec import Column, Derived, FeedSpec, PlatformSpec
from edassets.adapters.transforms import utc_timestamp
from edassets.demo.sandbox_demo import SANDBOX_SEED
from edassets.platforms import PLATFORMS
from edassets.resources.districts import DistrictRegistry
from edassets.resources.warehouse import WarehouseResource
from edassets.runs import run_platform
from edassets.sandbox.emulators import EMULATORS, ApiEmulator
from edassets.sandbox.onboard import sandbox_districts, sandbox_environment
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import World
from edassets.schema.model import LINEAGE_COLUMNS
from tests.assets.conftest import make_settings
from tests.platforms.conftest import TODAY, ContractFixtures, contract_cases, district_for

CASES = contract_cases()
CASE_IDS = [f"{platform}/{feed}" for platform, feed in CASES]
API_CASES = [(platform, feed) for platform, feed in CASES if PLATFORMS[platform].feed(feed).endpoint is not None]
# Platforms with at least one incremental feed: each gets one refused-then-committed run pair.
INCREMENTAL_PLATFORMS = [
    spec.name for spec in PLATFORMS.values()
    if any(feed.endpoint is not None and feed.endpoint.incremental is not None for feed in spec.feeds)
]

# Columns the engine fills itself, so a mapping never has to name them.
ENGINE_FILLED = frozenset({"district_id", "source_platform", "active", *LINEAGE_COLUMNS})
FORBIDDEN_NAMES = ("requests", "dagster", "sqlalchemy")

def _feed(platform_name: str, feed_name: str) -> tuple[PlatformSpec, FeedSpec]:
    spec = PLATFORMS[platform_name]
    return spec, spec.feed(feed_name)


# --- 1. the mapping fits the entity ------------------------------------------------------


@pytest.mark.parametrize(("platform_name", "feed_name"), CASES, ids=CASE_IDS)
def test_mapping_targets_are_entity_columns_and_cover_every_required_column(platform_name: str, feed_name: str) -> None:
    _, feed = _feed(platform_name, feed_name)
    entity = feed.entity
    assert feed.fields, f"{platform_name}/{feed_name} maps nothing"
    required = {f.name for f in entity.all_fields if f.required} - ENGINE_FILLED

    for position, mapping in enumerate(feed.fields):
        unknown = sorted(target for target in mapping if not entity.has(target))
        assert unknown == [], f"mapping {position} names columns {entity.name} does not have: {unknown}"
        unmapped = sorted(required - set(mapping))
        assert unmapped == [], f"mapping {position} leaves required {entity.name} columns unmapped: {unmapped}"


# --- 2. every vendor field the spec names is in what the vendor sends -----------------------


def _fixture_tables(contract: ContractFixtures, platform_name: str, feed: FeedSpec) -> dict[str, CsvTable]:
    """The feed's source tables as the mapping sees them: its own (key `feed.table`) and its joins'."""
    drop = contract.drop(platform_name, feed.name)
    if feed.endpoint is not None:
        return {
            table: read_json_pages(pages_of(drop, table), records_path=endpoint.records_path,
                                   record_root=endpoint.record_root, explode=endpoint.explode)
            for table, endpoint in feed_endpoints(feed)
        }
    wanted = {name.lower() for name in feed.files}
    return {name: read_csv_text(received.data) for name, received in ((role, found[0]) for role, found in drop.by_role().items()) if name in wanted}


def _columns(table: CsvTable | None) -> set[str]:
    return {str(c).casefold() for c in table.frame.columns} if table is not None else set()


def _resolves(name: str, feed: FeedSpec, tables: Mapping[str, CsvTable]) -> bool:
    """Whether a source name is a column of the feed's own table, or `<stem>.<col>` of a joined one."""
    if name.casefold() in _columns(tables.get(feed.table)):
        return True
    for join in feed.joins:
        if name.casefold().startswith(join.prefix.casefold()):
            column = name[len(join.prefix):]
            kept = {k.casefold() for k in join.keep}
            if column.casefold() in kept and column.casefold() in _columns(tables.get(join.file.lower())):
                return True
    return False


@pytest.mark.parametrize(("platform_name", "feed_name"), CASES, ids=CASE_IDS)
def test_every_mapped_source_field_is_in_the_sandbox_fixture(
    contract: ContractFixtures, platform_name: str, feed_name: str
) -> None:
    _, feed = _feed(platform_name, feed_name)
    tables = _fixture_tables(contract, platform_name, feed)
    assert feed.table in tables, f"the fixture has no {feed.table} table for {platform_name}/{feed_name}"
    assert len(tables[feed.table].frame) > 0, f"the fixture's {feed.table} table is empty"

    missing_columns: list[str] = []
    empty_derivations: list[str] = []
    for mapping in feed.fields:
        for target, source in mapping.items():
            if isinstance(source, Column) and not any(_resolves(n, feed, tables) for n in source.names):
                missing_columns.append(f"{target} <- col{source.names}")
            if isinstance(source, Derived) and not any(
                _resolves(n, feed, tables) for names in source.sources for n in names
            ):
                empty_derivations.append(f"{target} <- {[n for names in source.sources for n in names]}")
    if feed.where is not None and not _resolves(feed.where[0], feed, tables):
        missing_columns.append(f"where {feed.where[0]}")
    for join in feed.joins:
        if join.file.lower() in tables:
            # A side naming alternatives (1.0 and 1.1 spellings) needs one of them.
            missing_columns += [f"join key {left}" for left, _ in join.keys
                                if not any(_resolves(name, feed, tables) for name in left)]
            missing_columns += [f"{join.file} join key {right}" for _, right in join.keys
                                if not {name.casefold() for name in right} & _columns(tables[join.file.lower()])]

    assert missing_columns == [], (
        f"{platform_name}/{feed_name}: source fields not in the sandbox fixture (renamed vendor fields?): "
        f"{missing_columns}; fixture columns: {sorted(tables[feed.table].frame.columns)}"
    )
    assert empty_derivations == [], (
        f"{platform_name}/{feed_name}: derived columns with no source present: {empty_derivations}"
    )


# --- 3. a clean fixture parses and validates without one rejection ---------------------------


@pytest.mark.parametrize(("platform_name", "feed_name"), CASES, ids=CASE_IDS)
def test_the_fixture_parses_and_validates_with_nothing_rejected(
    contract: ContractFixtures, platform_name: str, feed_name: str
) -> None:
    parsed = contract.parsed(platform_name, feed_name)
    examples = parsed.errors[["field", "rule", "value"]].head(5).to_dict("records")
    assert parsed.errors.empty, f"{len(parsed.errors)} parse errors, e.g. {examples}"
    assert len(parsed.frame) > 0, "the fixture parsed to no rows"

    validated = contract.validated(platform_name, feed_name)
    assert validated.quarantined == 0, (
        f"{validated.quarantined} of {validated.received} records quarantined: {validated.summary_by_rule()}"
    )
    assert len(validated.rows) + validated.duplicates == len(parsed.frame)


# --- 4. the platform module stays declarative ---------------------------------------------


def _module_of(spec: PlatformSpec) -> Any:
    for info in pkgutil.iter_modules(edassets.platforms.__path__):
        module = importlib.import_module(f"{edassets.platforms.__name__}.{info.name}")
        if getattr(module, "SPEC", None) is spec:
            return module
    raise AssertionError(f"no module of edassets.platforms defines SPEC for {spec.name}")


def _house_rule_violations(source: str) -> list[str]:
    violations = []
    if "import requests" in source:
        violations.append("`import requests`")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]]
        else:
            continue
        violations += [f"imports {root} (line {node.lineno})" for root in roots if root in FORBIDDEN_NAMES]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in ("dagster", "sqlalchemy"):
            violations.append(f"uses {token.string} (line {token.start[0]})")
        if token.type == tokenize.OP and token.string == "@":
            violations.append(f"`@` decorator (line {token.start[0]})")
    return violations


@pytest.mark.parametrize(("platform_name", "feed_name"), CASES, ids=CASE_IDS)
def test_the_platform_module_follows_the_house_rules(platform_name: str, feed_name: str) -> None:
    spec, feed = _feed(platform_name, feed_name)
    module = _module_of(spec)
    path = Path(module.__file__)
    assert path.name == f"{spec.name}.py", f"{spec.name}'s spec lives in {path.name}"
    source = path.read_text(encoding="utf-8")

    assert _house_rule_violations(source) == []
    assert (ast.get_docstring(ast.parse(source)) or "").strip(), f"{path.name} has no module docstring"
    assert feed.description.strip(), f"{platform_name}/{feed_name} has no description"


# --- 5. incremental cursors move only with a committed load -----------------------------------


def _refuse_load(self: WarehouseResource, *args: object, **kwargs: object) -> None:
    raise RuntimeError("contract test: the warehouse refuses this load")


def _dig(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _newest_rendered(world: World, platform_name: str, district_id: str, feed: FeedSpec) -> datetime:
    """The newest modification time among the records the sandbox serves for the feed's collection."""
    emulator = EMULATORS[platform_name]
    assert issubclass(emulator, ApiEmulator), f"the sandbox serves no API records for {platform_name}"
    assert feed.endpoint is not None and feed.endpoint.incremental is not None
    collection = feed.endpoint.path.rstrip("/").rsplit("/", 1)[-1]
    records = emulator.render(world.state(district_id, TODAY), collection)
    stamps = pd.Series([_dig(r, feed.endpoint.incremental.cursor_field) for r in records], dtype="string")
    return utc_timestamp(stamps).max().to_pydatetime()


@pytest.mark.parametrize(("platform_name", "feed_name"), API_CASES, ids=[f"{p}/{f}" for p, f in API_CASES])
def test_the_parsed_fixture_carries_a_cursor_only_for_incremental_feeds(
    contract: ContractFixtures, platform_name: str, feed_name: str
) -> None:
    """The high-water mark a load would commit is the newest modification time served, or nothing."""
    _, feed = _feed(platform_name, feed_name)
    next_cursor = contract.parsed(platform_name, feed_name).next_cursor
    if feed.endpoint is None or feed.endpoint.incremental is None:
        assert next_cursor is None, "a feed without `incremental` must never hand the load a cursor"
        return
    expected = _newest_rendered(contract.world, platform_name, contract.district(platform_name), feed)
    assert next_cursor is not None, "an incremental feed's batch carries no cursor"
    assert abs(datetime.fromisoformat(next_cursor) - expected) <= timedelta(seconds=1), (next_cursor, expected)


@pytest.mark.parametrize("platform_name", INCREMENTAL_PLATFORMS)
def test_incremental_cursors_advance_only_after_a_committed_load(
    platform_name: str, contract_world: World, contract_server: SandboxServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One run whose loads all fail, then one that commits: only the second may move cursors.

    Feeds of the platform without `incremental` must keep no cursor even after the
    committed run; platforms with no incremental feed at all are covered without a
    Dagster run by the parsed-batch test above (their batches never carry a cursor).
    """
    spec = PLATFORMS[platform_name]
    district_id = district_for(contract_world, platform_name)
    incremental = {f.name for f in spec.feeds if f.endpoint is not None and f.endpoint.incremental is not None}
    settings = make_settings(tmp_path)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    for name, value in sandbox_environment(contract_world, SANDBOX_SEED).items():
        monkeypatch.setenv(name, value)
    registry = DistrictRegistry.load(settings.registry_path)
    for district in sandbox_districts(contract_world, contract_server):
        registry = registry.with_district(district)
    registry.save(settings.registry_path)
    warehouse = WarehouseResource(url=settings.warehouse_url)
    day = TODAY.isoformat()

    def cursors() -> dict[str, datetime | None]:
        return {feed.name: warehouse.cursor(spec.name, feed.name, district_id) for feed in spec.feeds}

    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.MonkeyPatch.context() as refusing:
            refusing.setattr(WarehouseResource, "load", _refuse_load)
            refused = run_platform(spec.name, district_id, day, settings=settings, instance=instance)
        assert refused.failure is not None, "the refused load did not fail the run"
        assert all(f.status != "ok" for f in refused.feeds), [(f.feed, f.status) for f in refused.feeds]
        assert cursors() == dict.fromkeys(cursors()), f"a cursor moved without a committed load: {cursors()}"

        outcome = run_platform(spec.name, district_id, day, settings=settings, instance=instance)

    assert outcome.failure is None, outcome.failure
    assert [(f.feed, f.status) for f in outcome.feeds if f.status != "ok"] == []
    committed = cursors()
    wrong = {}
    for feed in spec.feeds:
        if feed.name in incremental:
            expected = _newest_rendered(contract_world, spec.name, district_id, feed)
            value = committed[feed.name]
            if value is None or abs(value - expected) > timedelta(seconds=1):
                wrong[feed.name] = (value, expected)
        elif committed[feed.name] is not None:
            wrong[feed.name] = (committed[feed.name], None)
    assert wrong == {}, f"cursor (committed, expected newest dateLastModified) per feed: {wrong}"
