"""LiteRT C API failures say the status by its name and in words, never a bare number."""
from __future__ import annotations

from core.inference.config import RunConfig
from core.inference.session import run_benchmark
from core.inference.worker.litert_status import describe


def test_a_failed_c_call_names_the_status(shared_model):
    """sine_float's input is dynamic: LiteRT's C API refuses to wrap a host buffer for it
    (kLiteRtStatusErrorRuntimeFailure, 3 in litert/c/litert_common.h); the profile falls back to
    single-op timing and its method says why in words."""
    res = run_benchmark(RunConfig(model=str(shared_model("sine_float")), runs=2, warmup=0,
                                  profile=True))
    assert res.status == "ok", res.error
    method = res.summary.method if res.summary else ""
    assert "LiteRT C API could not" in method
    assert "kLiteRtStatusErrorRuntimeFailure (3): the runtime failed" in method
    assert "(status 3)" not in method


def test_unknown_codes_say_so():
    assert describe(2).startswith("kLiteRtStatusErrorMemoryAllocationFailure (2): ")
    assert describe(77) == "status 77, a code this LiteRT release's header does not define"
