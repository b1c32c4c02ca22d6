"""The README's local-stack figures are the ones `make bench` wrote last (docs/figures/), from a
run of the documented size: a figure edited by hand, or a bench run whose figures were not
carried into the README, fails here."""

import json

from infra.bench.local_stack import FIGURES_PATH, ROOT, figures_lines


def test_the_readme_states_the_figures_of_the_last_full_local_stack_bench():
    figures = json.loads(FIGURES_PATH.read_text())
    assert figures["ingest"]["touchpoints"] == 20_000  # what the issue and the README describe
    assert figures["campaign"]["customers"] == 10_000
    assert figures["idle"]["seconds"] >= 60
    assert figures["ingest"]["dead_lettered"] == 0
    assert figures["campaign"]["with_outcome"] == 10_000
    readme = (ROOT / "README.md").read_text()
    for line in figures_lines(figures):
        assert line in readme, f"README is missing the bench's line: {line}"


def test_figures_lines_say_what_was_measured():
    figures = {
        "idle": {"seconds": 60, "cpu_seconds_per_idle_minute": 1.5},
        "ingest": {
            "touchpoints": 20_000,
            "clients": 4,
            "batch": 100,
            "accepted_per_second": 812.3,
            "drained_per_second": 61.0,
        },
        "memory_mb": {"started": 250, "after_ingest": 700, "end": 820, "growth_per_1000_touchpoints": 22.5},
        "campaign": {
            "customers": 10_000,
            "launch_to_every_outcome_seconds": 240.5,
            "messages_per_minute": 2495,
        },
        "stop_seconds": 1.2,
    }
    lines = figures_lines(figures)
    assert lines[0] == (
        "- ingest of 20,000 touchpoints (4 clients, batches of 100):"
        " **812.3 events/s accepted, 61/s drained**"
    )
    assert "launch to every outcome in 240.5 s** (2,495 messages a minute)" in lines[2]
    assert "**1.5 CPU seconds per idle minute**" in lines[3]
