"""`World`: every district generated once, from which `World.state` derives a day's view."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date

from edassets.sandbox.world.activity import learning_activity
from edassets.sandbox.world.assessments import assessment_results
from edassets.sandbox.world.changes import draw_moves
from edassets.sandbox.world.history import DistrictHistory
from edassets.sandbox.world.ids import district_seed
from edassets.sandbox.world.roster import Roster
from edassets.sandbox.world.spec import DistrictSpec, WorldOptions, WorldState


class World:
    """Every district of the world, generated once; `state` derives a day's view."""

    _STATE_CACHE = 16  # states kept per world; a server asks for the same few days repeatedly

    def __init__(self, options: WorldOptions, districts: dict[str, DistrictHistory]) -> None:
        """Use `World.generate`; this only stores what it built."""
        self.options = options
        self._districts = districts
        self._states: OrderedDict[tuple[str, date], WorldState] = OrderedDict()

    @classmethod
    def generate(cls, options: WorldOptions) -> World:
        """Generate every district of ``options``.

        Args:
            options: What to generate.

        Returns:
            The world; the same options always give identical frames.
        """
        return cls(options, {spec.district_id: _generate_district(options, spec) for spec in options.districts})

    def spec(self, district_id: str) -> DistrictSpec:
        """The spec of one district.

        Raises:
            KeyError: If the world has no such district.
        """
        return self._district(district_id).spec

    def state(self, district_id: str, as_of: date) -> WorldState:
        """The district as its source systems show it on ``as_of``.

        Changes (transfers, withdrawals) effective on or before ``as_of`` are applied;
        assessment results and learning events are those that happened by the end of that
        local day. States are cached, so repeated calls are cheap.

        Args:
            district_id: The district.
            as_of: The day.

        Returns:
            The state (read-only frames).

        Raises:
            KeyError: If the world has no such district.
        """
        key = (district_id, as_of)
        cached = self._states.get(key)
        if cached is None:
            cached = self._district(district_id).state(as_of)
            self._states[key] = cached
            if len(self._states) > self._STATE_CACHE:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        return cached

    def _district(self, district_id: str) -> DistrictHistory:
        try:
            return self._districts[district_id]
        except KeyError:
            raise KeyError(f"no district {district_id!r} in this world; it has {sorted(self._districts)}") from None


def _generate_district(options: WorldOptions, spec: DistrictSpec) -> DistrictHistory:
    """The roster, then its changes, results and activity: this order fixes every draw."""
    roster = Roster(options, spec, district_seed(options.seed, spec.district_id))
    frames = roster.build()
    moves = draw_moves(roster, frames["persons"], frames["enrollments"])
    results, result_day = assessment_results(roster)
    activity, activity_day = learning_activity(roster, moves)
    return DistrictHistory(
        spec=spec,
        frames={**frames, "enrollments": moves.all_enrollments, "assessment_results": results,
                "learning_activity": activity},
        person_changes=moves.persons,
        enrollment_changes=moves.enrollments,
        enrollment_appears=moves.appears,
        result_day=result_day,
        activity_day=activity_day,
    )

