"""Onboarding: the district registry fills each platform's district partition dimension.

Schedules cannot add dynamic partitions (DAGSTER_NOTES 7); a sensor can. Districts are
only ever added here: a district with history is offboarded by `active: false` in the
registry, never by deleting its partitions (DAGSTER_NOTES 4).
"""

import dagster as dg

from edassets.assets.partitions import districts_partitions_name
from edassets.resources.districts import DistrictRegistryResource


def build_onboarding_sensor(platforms: list[str]) -> dg.SensorDefinition:
    """A sensor adding every registered district to the dimensions of the platforms it uses."""

    @dg.sensor(
        name="district_onboarding",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds districts from the registry to each platform's district partitions.",
    )
    def district_onboarding(context: dg.SensorEvaluationContext, districts: DistrictRegistryResource) -> dg.SensorResult:
        registry = districts.registry()
        requests = []
        for platform in platforms:
            name = districts_partitions_name(platform)
            known = set(context.instance.get_dynamic_partitions(name))
            new = sorted(d.id for d in registry.using(platform) if d.id not in known)
            if new:
                requests.append(dg.AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=new))
        return dg.SensorResult(dynamic_partitions_requests=requests)

    return district_onboarding
