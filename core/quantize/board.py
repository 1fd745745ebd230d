"""A quantized result verified on the target board: the float model and the written result each
loaded and timed there (the bench job over SSH, one after the other so neither slows the other),
and the speed-up the board really gets. The quantizer itself runs here; the board only needs its
runtime."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core import format as fmt
from core.inference.config import RunConfig
from core.inference.remote import RemoteSession
from core.inference.ssh_target import SshTarget, facts_line

BOARD_RUNS = 20


@dataclass(frozen=True)
class BoardRun:
    """One model on the board: whether it loaded, its median latency, and why not."""
    status: str
    median_ms: float | None
    error: str | None


@dataclass(frozen=True)
class BoardCheck:
    address: str
    facts: dict[str, Any] | None
    float_model: BoardRun | None      # None: the input was not a .tflite (nothing to compare)
    quantized: BoardRun
    speedup: float | None             # float median / quantized median

    @property
    def ok(self) -> bool:
        return self.quantized.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        def run(name: str, r: BoardRun | None) -> str:
            if r is None:
                return f"  {name}: not run"
            if r.status != "ok":
                return f"  {name}: {r.status}: {r.error}"
            return f"  {name}: median {fmt.duration_ms(r.median_ms)}"
        out = [f"on {self.address}: {facts_line(self.facts or {})}",
               run("float", self.float_model), run("quantized", self.quantized)]
        if self.speedup:
            out.append(f"  speed-up on the board {self.speedup:.2f}×")
        return out


def _bench(path: str, target: SshTarget, threads: int,
           runs: int) -> tuple[BoardRun, dict[str, Any]]:
    session = RemoteSession(RunConfig(model=path, threads=threads, runs=runs), target).start()
    session.run_to_end()
    r = session.job.result()
    return BoardRun(r.status, r.latency_ms.median, r.error), session.target_json()


def check_on_board(float_model: str | None, quantized_model: str, target: SshTarget,
                   threads: int = 1, runs: int = BOARD_RUNS) -> BoardCheck:
    """Time ``quantized_model`` (and ``float_model`` when given) on ``target``. Raises
    ``TargetError`` when the board cannot run at all (unreachable, no runtime...)."""
    quant, where = _bench(quantized_model, target, threads, runs)
    flt = _bench(float_model, target, threads, runs)[0] if float_model else None
    speedup = (flt.median_ms / quant.median_ms
               if flt and flt.median_ms and quant.median_ms else None)
    return BoardCheck(address=where["address"], facts=where["facts"], float_model=flt,
                      quantized=quant, speedup=speedup)
