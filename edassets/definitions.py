"""The one place the Dagster Definitions are assembled (`dagster dev` loads `defs`)."""

import dagster as dg

from edassets.assets.factory import BATCH_IO_MANAGER, RAW_IO_MANAGER, build_platform_assets
from edassets.assets.partitions import platform_partitions
from edassets.automation.onboarding import build_onboarding_sensor
from edassets.platforms import PLATFORMS
from edassets.resources.archive import ArchiveResource
from edassets.resources.districts import DistrictRegistryResource
from edassets.resources.dropbox import DropboxResource
from edassets.resources.io_managers import BatchArchiveIOManager, RawArchiveIOManager
from edassets.resources.warehouse import WarehouseResource
from edassets.settings import Settings


def job_name(platform: str) -> str:
    """Name of the job that runs a platform's whole graph for one partition."""
    return f"{platform}_job"


def build_definitions(settings: Settings, *, onboarding: str = "") -> dg.Definitions:
    """Every platform's assets, checks and job, wired to the resources `settings` name.

    Args:
        settings: the installation.
        onboarding: registry entry (YAML) of a district a command-line run is onboarding:
            the run sees it before the registry file does (see `DistrictRegistryResource`).
    """
    warehouse_kind = "postgres" if settings.warehouse_url.startswith("postgresql") else "sqlite"
    assets: list[dg.AssetsDefinition] = []
    jobs = []
    for spec in PLATFORMS.values():
        partitions = platform_partitions(spec.name, settings)
        built = build_platform_assets(spec, partitions, warehouse_kind)
        assets += built.assets
        # In-process: one subprocess per step costs ~1.3 s here (DAGSTER_NOTES 6).
        jobs.append(
            dg.define_asset_job(
                job_name(spec.name),
                selection=dg.AssetSelection.groups(spec.name),
                executor_def=dg.in_process_executor,
                description=f"Everything of {spec.title} for one district and day: raw → parsed → validated → loaded.",
            )
        )
    archive = ArchiveResource(url=settings.archive_url, s3_endpoint_url=settings.s3_endpoint_url)
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        sensors=[build_onboarding_sensor(list(PLATFORMS))],
        resources={
            "archive": archive,
            "warehouse": WarehouseResource(url=settings.warehouse_url),
            "districts": DistrictRegistryResource(path=str(settings.registry_path), onboarding=onboarding),
            "dropbox": DropboxResource(root=str(settings.drop_root)),
            RAW_IO_MANAGER: RawArchiveIOManager(archive=archive),
            BATCH_IO_MANAGER: BatchArchiveIOManager(archive=archive),
        },
    )


def asset_graph_lines(definitions: dg.Definitions, platform: str) -> list[str]:
    """One platform's part of the asset graph as reviewable text: assets with group, kinds and parents, then checks."""
    graph = definitions.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: tuple(k.path)):
        if key.path[0] != platform:
            continue
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys))
        lines.append(f"{key.to_user_string()} [{node.group_name}; {', '.join(sorted(node.kinds))}] <- {parents}")
    for check in sorted(graph.asset_check_keys, key=lambda c: (tuple(c.asset_key.path), c.name)):
        if check.asset_key.path[0] == platform:
            lines.append(f"check {check.asset_key.to_user_string()}:{check.name}")
    return lines


defs = build_definitions(Settings.from_env())
