"""The nightly recompute: parallel parts, cut points from every part, progress, redelivered
tasks changing nothing, and the result the live path gives."""

from __future__ import annotations

from datetime import timedelta

from shared.domain.ingest.touchpoints import TouchpointType
from shared.domain.segments.classification import ClassificationRules, Tier
from shared.domain.segments.recompute import Phase, apply_part, sample_part, start_recompute
from tests.fakes import GraphScanner, InMemoryRecomputeJobs, QueuedRecomputeTasks
from tests.unit.customers_support import T0, ids, touchpoint
from tests.unit.test_segments import World


def run_all(world: World, jobs, tasks, scanner) -> None:
    while tasks.queued:
        job_id, phase, part = tasks.queued.pop(0)
        if phase is Phase.SAMPLING:
            sample_part(
                job_id,
                part,
                jobs=jobs,
                tasks=tasks,
                scanner=scanner,
                cut_store=world.store,
                rules=ClassificationRules(),
                now=world.clock.now(),
            )
        else:
            apply_part(
                job_id, part, jobs=jobs, scanner=scanner, refresher=world.refresher(), now=world.clock.now()
            )


def test_parts_compute_cut_points_then_reclassify_everyone_with_progress() -> None:
    world = World(("leaders", {"field": "tier", "op": "eq", "value": "opinion_leader"}))
    world.clock.current = T0 + timedelta(days=1)
    for n in range(1, 21):  # twenty buyers, revenue 10..200
        world.harness.fold(
            [
                touchpoint(
                    f"o{n}",
                    ids(user_id=f"u{n}"),
                    kind=TouchpointType.ORDER,
                    order_id=f"o{n}",
                    total=str(10 * n),
                    minutes=n,
                )
            ]
        )
    jobs, tasks = InMemoryRecomputeJobs(), QueuedRecomputeTasks()
    scanner = GraphScanner(world.harness.graph)
    job = start_recompute(jobs=jobs, tasks=tasks, now=world.clock.now(), parts=4)
    assert [t[1] for t in tasks.queued] == [Phase.SAMPLING] * 4
    first = tasks.queued[0]
    run_all(world, jobs, tasks, scanner)

    done = jobs.get(job.job_id)
    assert done is not None
    assert (done.phase, done.profiles_sampled, done.profiles_evaluated) == (Phase.DONE, 20, 20)
    assert done.view()["progress"] == 1.0
    assert world.store.cuts.profiles == 20 and world.store.cuts.monetary == [40.0, 80.0, 120.0, 160.0]
    leaders = {
        world.harness.graph.stored_profiles[pid].identifier_values("user_id")[0]
        for pid in world.members("leaders")
    }
    assert leaders == {"u18", "u19", "u20"}  # the top 15 % by value
    tiers = [s.classification.tier for s in world.store.states.values() if s.classification]
    assert tiers.count(Tier.OPINION_LEADER) == 3

    commits = world.store.commits
    sample_part(
        first[0],
        first[2],
        jobs=jobs,
        tasks=tasks,
        scanner=scanner,
        cut_store=world.store,
        rules=ClassificationRules(),
        now=world.clock.now(),
    )  # a redelivered task
    run_all(world, jobs, tasks, scanner)
    assert world.store.commits == commits  # nothing changed twice

    # The live path with these cut points agrees: a new big buyer becomes a leader at once.
    world.deliver(
        [touchpoint("big", ids(user_id="u99"), kind=TouchpointType.ORDER, order_id="big", total="500")]
    )
    assert world.harness.profile_of(ids(user_id="u99")[0]).profile_id in world.members("leaders")
