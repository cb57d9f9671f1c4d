"""Partitions: one district's data for one delivery day, per platform."""

import dagster as dg

from edassets.settings import Settings

DISTRICT_DIMENSION = "district"
DATE_DIMENSION = "date"


def districts_partitions_name(platform: str) -> str:
    """Name of a platform's dynamic district dimension (`<platform>__districts`)."""
    return f"{platform}__districts"


def platform_partitions(platform: str, settings: Settings) -> dg.MultiPartitionsDefinition:
    """District × day partitions of one platform.

    The day dimension starts at go-live (partition counts grow forever, DAGSTER_NOTES 5)
    and includes today (`end_offset=1`): a district's files are imported the day they arrive.
    """
    return dg.MultiPartitionsDefinition(
        {
            DISTRICT_DIMENSION: dg.DynamicPartitionsDefinition(name=districts_partitions_name(platform)),
            DATE_DIMENSION: dg.DailyPartitionsDefinition(start_date=settings.go_live.isoformat(), end_offset=1),
        }
    )


def partition_key(district_id: str, day: str) -> dg.MultiPartitionKey:
    """The multi-partition key of a district and a delivery day."""
    return dg.MultiPartitionKey({DISTRICT_DIMENSION: district_id, DATE_DIMENSION: day})


def partition_parts(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(district id, day) of a multi-partition key.

    Keys arrive as `MultiPartitionKey` inside a run and as plain `"<date>|<district>"`
    strings elsewhere (dimensions are joined in name order, DAGSTER_NOTES 4).
    """
    if isinstance(key, dg.MultiPartitionKey):
        dimensions = key.keys_by_dimension
        return dimensions[DISTRICT_DIMENSION], dimensions[DATE_DIMENSION]
    day, district = key.split("|")
    return district, day
