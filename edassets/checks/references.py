"""Resolving references: an id must name a row in this partition's batch or in the warehouse."""

from collections.abc import Mapping

import pandas as pd

from edassets.resources.warehouse import WarehouseResource


class ReferenceResolver:
    """Answers "does this class / person / course exist?" for one district's batch.

    The batch is asked first (a roster file brings new classes and their enrollments
    together); only ids it lacks go to the warehouse, in one query per entity and chunk.
    """

    def __init__(self, batch_ids: Mapping[str, pd.Series], warehouse: WarehouseResource, district_id: str) -> None:
        """Args:
        batch_ids: referenced entity name -> ids of the rows that passed validation in this batch.
        warehouse: where earlier loads live.
        district_id: the district the references are scoped to.
        """
        self._batch_ids = {name: set(ids.dropna()) for name, ids in batch_ids.items()}
        self._warehouse = warehouse
        self._district_id = district_id

    def exists(self, entity_name: str, ids: pd.Series) -> pd.Series:
        """Boolean mask aligned with `ids`: which ids exist."""
        in_batch = ids.isin(self._batch_ids.get(entity_name, set()))
        unknown = ids[~in_batch].unique()
        if len(unknown) == 0:
            return in_batch
        found = self._warehouse.existing_ids(entity_name, self._district_id, unknown)
        return in_batch | ids.isin(found)
