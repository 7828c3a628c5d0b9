"""Which local Beam engine runs a job.

Beam's DirectRunner first looks for the Prism runner, which it downloads; offline that lookup fails
slowly before falling back. newswire names the local engines directly instead: the FnApiRunner for
batch (fast, supports state and timers) and the BundleBasedDirectRunner for streaming (the one that
reads Pub/Sub). Any other --runner (DataflowRunner, PrismRunner, ...) is passed through untouched.
"""

from __future__ import annotations

BATCH_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
STREAMING_RUNNER = "apache_beam.runners.direct.direct_runner.BundleBasedDirectRunner"


def local_runner(requested: str | None, *, streaming: bool) -> str:
    if requested in (None, "", "DirectRunner", "directrunner"):
        return STREAMING_RUNNER if streaming else BATCH_RUNNER
    return requested


def is_dataflow(runner) -> bool:
    """True for the Dataflow runner, named or given as an instance/class."""
    name = runner if isinstance(runner, str) else getattr(runner, "__name__", type(runner).__name__)
    return (name or "").rsplit(".", 1)[-1].lower() in ("dataflowrunner", "testdataflowrunner")
