"""One small sandbox world and server for the platform contract suite, plus each feed's fixture drop.

One district of 500 students per authoritative roster platform of the emulator registry,
served as of the world's first sync date. A feed's "fixture drop" is what the platform's
raw asset would receive for the district whose roster the platform is (any
district for platforms that are not rosters): the rendered files for file-drop platforms,
the pages fetched from the running sandbox for API platforms.
"""

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.fetch import fetch_feed, plan_fetch
from edassets.adapters.file_drop import collect_files, select_drop
from edassets.adapters.parse import parse_drop
from edassets.adapters.spec import FeedSpec, ParseContext, PlatformSpec
from edassets.checks.references import referenced_batch_ids
from edassets.checks.validation import validate_batch
from edassets.demo.sandbox_demo import SANDBOX_SEED
from edassets.handoffs import ParsedBatch, RawDrop, ValidatedBatch
from edassets.platforms import PLATFORMS
from edassets.sandbox.credentials import sandbox_credentials
from edassets.sandbox.emulators import EMULATORS, roster_platforms
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.schema.entities import ENTITIES_BY_NAME, PERSON_IDENTIFIER

CONTRACT_OPTIONS = WorldOptions(
    districts=tuple(
        DistrictSpec(f"contract-{i}", f"Contract {EMULATORS[name].title} Unified", 500, name, "America/Chicago")
        for i, name in enumerate(roster_platforms())
    ),
    seed=SANDBOX_SEED,
)
"""The contract world: one district per roster source."""

TODAY: date = CONTRACT_OPTIONS.sync_dates[0]
"""The day the sandbox serves (the first sync: before any transfer or withdrawal)."""

RUN_ID = "contract-run"


def contract_cases() -> list[tuple[str, str]]:
    """(platform, feed) for every registered platform and feed."""
    return [(spec.name, feed.name) for spec in PLATFORMS.values() for feed in spec.feeds]


def district_for(world: World, platform_name: str) -> str:
    """The district whose authoritative roster `platform_name` is; the first district otherwise."""
    districts = world.options.districts
    return next((d.district_id for d in districts if d.roster_source == platform_name), districts[0].district_id)


def credentials_for(platform_name: str, district_id: str) -> dict[str, str]:
    """The resolved credentials a platform's `ApiSpec.auth` expects, for a sandbox district."""
    return sandbox_credentials(platform_name, district_id, SANDBOX_SEED)


class ContractFixtures:
    """Fixture drops, parsed batches and validated batches, each built once per session."""

    def __init__(self, world: World, server: SandboxServer, root: Path) -> None:
        self.world = world
        self.server = server
        self._root = root
        self._drops: dict[tuple[str, str], RawDrop] = {}
        self._parsed: dict[tuple[str, str], ParsedBatch] = {}
        self._validated: dict[tuple[str, str], ValidatedBatch] = {}

    def district(self, platform_name: str) -> str:
        """The sandbox district the platform's fixture comes from."""
        return district_for(self.world, platform_name)

    def context(self, platform_name: str) -> ParseContext:
        """The parse context of the platform's fixture district."""
        spec = self.world.spec(self.district(platform_name))
        return ParseContext(district_id=spec.district_id, timezone=ZoneInfo(spec.timezone), platform=platform_name)

    def drop(self, platform_name: str, feed_name: str) -> RawDrop:
        """What the feed's raw asset would receive from the sandbox."""
        key = (platform_name, feed_name)
        if key not in self._drops:
            spec = PLATFORMS[platform_name]
            feed = spec.feed(feed_name)
            district_id = self.district(platform_name)
            if spec.delivery == "api":
                # The sandbox speaks plain HTTP on loopback; oauthlib refuses that unless told otherwise.
                with pytest.MonkeyPatch.context() as patch:
                    patch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
                    self._drops[key] = fetch_feed(
                        spec, feed, district_id=district_id, base_url=self.server.base_url(platform_name, district_id),
                        credentials=credentials_for(platform_name, district_id), plan=plan_fetch(feed, None),
                    )
            else:
                self._drops[key] = self._file_drop(spec, feed, district_id)
        return self._drops[key]

    def _file_drop(self, spec: PlatformSpec, feed: FeedSpec, district_id: str) -> RawDrop:
        folder = self._root / district_id / spec.name
        if not folder.exists():
            folder.mkdir(parents=True)
            for name, data in self.server.drop_files(spec.name, district_id).items():
                (folder / name).write_bytes(data)
        files, containers = collect_files([folder])
        return select_drop(files, containers, spec, feed)

    def parsed(self, platform_name: str, feed_name: str) -> ParsedBatch:
        """The fixture drop parsed as the parsed asset would."""
        key = (platform_name, feed_name)
        if key not in self._parsed:
            spec = PLATFORMS[platform_name]
            self._parsed[key] = parse_drop(spec, spec.feed(feed_name), self.drop(platform_name, feed_name),
                                           context=self.context(platform_name), run_id=RUN_ID)
        return self._parsed[key]

    def validated(self, platform_name: str, feed_name: str) -> ValidatedBatch:
        """The parsed fixture through the validation gate.

        References resolve against the validated batches of the other feeds of the same
        platform fixture, and references to the feed's own entity (a session's parent)
        against its own parsed batch, as the validated asset resolves them; a platform
        that is not the district's roster (MAP Growth) also sees the roster platform's
        batches, which is what the warehouse would hold, and resolves persons through the
        roster's person_identifiers batch.
        """
        key = (platform_name, feed_name)
        if key in self._validated:
            return self._validated[key]
        spec = PLATFORMS[platform_name]
        feed = spec.feed(feed_name)
        roster = None if spec.roster else self.world.spec(self.district(platform_name)).roster_source
        batches: dict[str, ValidatedBatch] = {}
        targets = {entity for reference in feed.entity.references for entity, _ in reference.targets}
        for source in ([roster] if roster else []) + [platform_name]:
            for other in PLATFORMS[source].feeds:
                if other.name != feed.name or source != platform_name:
                    if other.entity.name in targets:
                        batches[other.entity.name] = self.validated(source, other.name)
        own = self.parsed(platform_name, feed_name)
        known = {target: set(ids.dropna()) for target, ids in referenced_batch_ids(feed, batches, own).items()}

        def reference_exists(entity_name: str, column: str | None, ids: pd.Series) -> pd.Series:
            column = column or ENTITIES_BY_NAME[entity_name].id_column
            return ids.isin(known.get((entity_name, column), set()))

        person_lookup = None
        if feed.crosswalk is not None:
            roster_name = roster or platform_name
            crosswalk_feed = next(f for f in PLATFORMS[roster_name].feeds if f.entity is PERSON_IDENTIFIER)
            crosswalk = self.validated(roster_name, crosswalk_feed.name).rows
            person_lookup = _person_lookup(crosswalk)
        self._validated[key] = validate_batch(feed, own, reference_exists=reference_exists, person_lookup=person_lookup)
        return self._validated[key]


def _person_lookup(crosswalk: pd.DataFrame) -> Callable[[pd.Series, tuple[str, ...]], pd.Series]:
    """A `PersonLookup` over crosswalk rows: the first id type that matches wins."""

    def lookup(ids: pd.Series, id_types: tuple[str, ...]) -> pd.Series:
        resolved = pd.Series(pd.NA, index=ids.index, dtype=pd.StringDtype("pyarrow"))
        for id_type in id_types:
            rows = crosswalk[crosswalk["id_type"] == id_type].drop_duplicates("external_id")
            found = ids.map(pd.Series(rows["person_id"].to_numpy(), index=rows["external_id"].to_numpy()))
            resolved = resolved.fillna(found.astype(pd.StringDtype("pyarrow")))
        return resolved

    return lookup


@pytest.fixture(scope="session")
def contract_world() -> World:
    """The contract world (generated once per test process)."""
    return World.generate(CONTRACT_OPTIONS)


@pytest.fixture(scope="session")
def contract_server(contract_world: World) -> Iterator[SandboxServer]:
    """The sandbox serving the contract world as of its first sync date; stopped at the end."""
    server = SandboxServer(contract_world, seed=SANDBOX_SEED, today=TODAY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def contract(contract_world: World, contract_server: SandboxServer,
             tmp_path_factory: pytest.TempPathFactory) -> ContractFixtures:
    """Fixture drops and batches of every platform, built lazily and kept for the session."""
    return ContractFixtures(contract_world, contract_server, tmp_path_factory.mktemp("contract-drops"))
