"""Resolving references: an id must name a row in this partition's batch or in the warehouse."""

from collections.abc import Mapping

import pandas as pd

from edassets.adapters.spec import FeedSpec
from edassets.checks.validation import ValidatedBatch
from edassets.resources.warehouse import WarehouseResource
from edassets.schema.entities import ENTITIES_BY_NAME


class ReferenceResolver:
    """Answers "does this class / person / course exist?" for one district's batch.

    The batch is asked first (a roster file brings new classes and their enrollments
    together); only ids it lacks go to the warehouse, in one query per entity and chunk.
    """

    def __init__(self, batch_ids: Mapping[tuple[str, str], pd.Series], warehouse: WarehouseResource,
                 district_id: str) -> None:
        """Args:
        batch_ids: (referenced entity, column) -> values of the rows that passed validation in this batch.
        warehouse: where earlier loads live.
        district_id: the district the references are scoped to.
        """
        self._batch_ids = {target: set(ids.dropna()) for target, ids in batch_ids.items()}
        self._warehouse = warehouse
        self._district_id = district_id

    def exists(self, entity_name: str, column: str | None, ids: pd.Series) -> pd.Series:
        """Boolean mask aligned with `ids`: which ids exist (column None: the entity's own id)."""
        column = column or ENTITIES_BY_NAME[entity_name].id_column
        in_batch = ids.isin(self._batch_ids.get((entity_name, column), set()))
        unknown = ids[~in_batch].unique()
        if len(unknown) == 0:
            return in_batch
        found = self._warehouse.existing_ids(entity_name, self._district_id, unknown, column=column)
        return in_batch | ids.isin(found)


def referenced_batch_ids(feed: FeedSpec, batches: dict[str, ValidatedBatch]) -> dict[tuple[str, str], pd.Series]:
    """(entity, column) -> passed values, for every reference target the batches of this partition produce."""
    found = {}
    for reference in feed.entity.references:
        for entity, column in reference.targets:
            if entity in batches:
                column = column or ENTITIES_BY_NAME[entity].id_column
                found[(entity, column)] = batches[entity].rows[column]
    return found
