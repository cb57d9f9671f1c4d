"""How long the sandbox world takes to generate, derive a day's state and render it.

Not a test (pytest never collects it); the performance guard of `edassets.sandbox.world`
is this script. Targets: a 5,000-student district generates in under 1.5 s and a
50,000-student one well under 10 s. Run from the repository root::

    .venv/bin/python -m benchmarks.bench_sandbox_world [--students 5000 50000] [--repeat 3] [--render]
"""

import argparse
import statistics
import time
from collections.abc import Callable

from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.world import DistrictSpec, World, WorldOptions

TARGETS = {5_000: 1.5, 50_000: 10.0}  # seconds allowed for World.generate


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(best, median) seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def bench(students: int, repeat: int, with_render: bool) -> bool:
    """Print the timings for one district size; return whether generation met its target."""
    options = WorldOptions(districts=(DistrictSpec("bench-usd", "Bench Unified School District", students, "clever"),))
    generate, median, world = _timed(lambda: World.generate(options), repeat)
    assert isinstance(world, World)
    target = TARGETS.get(students)
    met = target is None or generate < target
    verdict = "" if target is None else (" ok" if met else f" SLOWER than {target:.1f} s")
    print(f"{students:>6} students  generate   best {generate:6.3f} s  median {median:6.3f} s{verdict}")
    first_sync, second_sync = options.sync_dates
    start = time.perf_counter()
    world.state("bench-usd", first_sync)
    state = world.state("bench-usd", second_sync)
    print(f"{'':>15} two states {time.perf_counter() - start:6.3f} s  ({len(state.persons):,} persons, "
          f"{len(state.enrollments):,} enrollments, {len(state.assessment_results):,} results, "
          f"{len(state.learning_activity):,} events)")
    if with_render:
        renders: dict[str, Callable[[], object]] = {
            "oneroster users": lambda: EMULATORS["oneroster_rest"].render(state, "users"),
            "oneroster enrollments": lambda: EMULATORS["oneroster_rest"].render(state, "enrollments"),
            "clever users": lambda: EMULATORS["clever"].render(state, "users"),
            "clever sections": lambda: EMULATORS["clever"].render(state, "sections"),
            "oneroster csv bundle": lambda: EMULATORS["oneroster_csv"].render(state),
            "nwea export": lambda: EMULATORS["nwea_map"].render(state),
        }
        for name, fn in renders.items():
            seconds, _, _ = _timed(fn, 1)
            print(f"{'':>15} render {name:<22} {seconds:6.3f} s")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=sorted(TARGETS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--render", action="store_true", help="also time the platform renderers")
    args = parser.parse_args()
    ok = [bench(n, args.repeat, args.render) for n in args.students]
    raise SystemExit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
