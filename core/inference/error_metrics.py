"""How far a quantized model's numbers are from the float model's: whole outputs and per layer.

Plain numpy on real-valued arrays (quantized tensors are dequantized with their scale and zero
point first). Every value is a finite float, so reports stay strict JSON.

Non-finite values: where both models give the same inf (a -inf attention mask, say) or both NaN,
the position agrees and is left out of the sums; where only one does (or the infs differ) it is
a mismatch no number can measure: it is counted in ``nonfinite`` and the output/layer counts as
unrelated to the float one (cosine 0, SNR -SNR_CAP_DB), never as a silent NaN or a perfect match.

Whole outputs are compared one by one (``OutputCompare``) with what fits their kind (class
scores, a detector's boxes or scores, other values): top-1 agreement only for class scores and
only where the float scores have one highest class; no cosine/SNR for an output that is
non-finite everywhere in the float model or too small to measure. Judging the figures is
``core.quantize.verdict``'s job.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

_TINY = 1e-30
SNR_CAP_DB = 200.0   # an exact match would be +inf dB; the cap keeps JSON finite
# a float output whose largest |value| is under this (or under one step of the quantized
# output) cannot be judged: a sigmoid mask at 1e-8 on random inputs gives any cosine at all
TINY_OUTPUT = 1e-5
OUTPUT_KINDS = ("class_scores", "boxes", "scores", "values")
_BOX_NAMES = re.compile(r"box|regress|loc|coord|landmark|offset", re.I)
_SCORE_NAMES = re.compile(r"score|class|conf|logit|prob", re.I)


@dataclass(frozen=True)
class OutputCompare:
    """One output of the quantized model against the float model's, over every evaluation
    input. ``cosine``/``snr_db`` are None when the output cannot be compared: the float values
    are non-finite everywhere, or too small (max |value| under ``TINY_OUTPUT`` or under one step
    of the quantized output) for any figure to mean something."""
    name: str
    shape: list[int]
    kind: str                    # one of OUTPUT_KINDS
    cosine: float | None
    snr_db: float | None
    cosine_range: list[float] | None   # [lowest, highest] cosine of a single input
    max_abs: float | None        # None: the difference overflowed to inf
    top1_agreement: float | None  # class scores only; over top1_inputs
    top1_inputs: int             # inputs whose float scores have one highest class
    float_max_abs: float         # largest finite |value| of the float output
    step: float | None           # the quantized output's quantization step (None: float)
    float_constant: bool         # the float output is the same for every input (2 or more)
    quantized_constant: bool     # the quantized output is the same for every input
    quantized_value: float | None  # its single value, when it holds one value everywhere
    nonfinite: int               # positions where only one model gives inf/NaN
    float_nonfinite: int         # positions where the float model gives inf/NaN


@dataclass(frozen=True)
class OutputError:
    """Whole outputs of one model against the float one's, over every evaluation input. The
    worst cosine/SNR are over the outputs that can be compared (None when none can)."""
    max_abs: float | None        # None: the difference overflowed to inf
    mean_abs: float | None       # over the finite positions; None as max_abs
    cosine: float | None         # of the worst comparable output
    snr_db: float | None         # of the worst comparable output
    top1_agreement: float | None  # first class-score output, else None
    nonfinite: int               # positions where only one model gives inf/NaN
    inputs: int = 0              # evaluation inputs compared
    outputs: list[OutputCompare] = field(default_factory=list)


@dataclass(frozen=True)
class LayerError:
    """One op output of the quantized model against the float model's (one input)."""
    rmse: float
    max_abs: float
    cosine: float
    nonfinite: int


def dequantize(arr: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    a = np.asarray(arr)
    if scale and a.dtype.kind in "iu":
        return (a.astype(np.float64) - zero_point) * scale
    return a.astype(np.float64)


def _split(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(ref, got) flattened to the positions where both are finite, and the count of positions
    where they are not and disagree."""
    r, g = ref.astype(np.float64).reshape(-1), got.astype(np.float64).reshape(-1)
    finite = np.isfinite(r) & np.isfinite(g)
    if finite.all():
        return r, g, 0
    same = ~finite & ((r == g) | (np.isnan(r) & np.isnan(g)))
    return r[finite], g[finite], int(np.count_nonzero(~finite & ~same))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b, mismatched = _split(a, b)
    if mismatched:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:   # direction undefined: agree only if both are (near) zero
        return 1.0 if float(np.abs(a - b).max(initial=0.0)) <= 1e-6 else 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got, mismatched = _split(ref, got)
    if mismatched:
        return -SNR_CAP_DB
    noise = float(np.sum((ref - got) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        return SNR_CAP_DB
    return float(min(SNR_CAP_DB, 10.0 * math.log10((signal + _TINY) / noise)))


def classifier_output(shape) -> bool:
    """One axis of 2..100000 classes, the rest 1: top-1 agreement is meaningful."""
    dims = [int(d) for d in shape if int(d) != 1]
    return len(dims) == 1 and 2 <= dims[0] <= 100_000


# the ops whose output is a class-score vector when it is one: top-1 is only asked of a vector
# the model marks as scores (a 4-number crop rectangle or a 96-number embedding is a vector too)
CLASS_ACTIVATIONS = frozenset({"SOFTMAX", "LOG_SOFTMAX", "LOGISTIC"})


def output_kinds(names: list[str], shapes: list,
                 activations: list[str | None] | None = None) -> list[str]:
    """What each output is, for the metrics that fit it: "boxes" and "scores" of a detector
    (outputs that share an anchor axis of more than one anchor: [1, N, K] box regressions beside
    [1, N, 1] or [1, N] scores, told apart by name, else the wider one is the boxes),
    "class_scores" (one axis of 2..100000 values the model marks as scores: ``activations[i]``,
    the op behind the output, is a SOFTMAX, LOG_SOFTMAX or LOGISTIC, or its name says scores,
    logits, probabilities), or "values" (masks, embeddings, regressions, anything else: judged
    by cosine/SNR only)."""
    acts = activations or [None] * len(shapes)

    def classes(i: int) -> bool:
        return classifier_output(shapes[i]) and (
            acts[i] in CLASS_ACTIVATIONS
            or (bool(_SCORE_NAMES.search(names[i])) and not _BOX_NAMES.search(names[i])))
    def anchors(shape) -> int:
        dims = [int(d) for d in shape]
        if len(dims) >= 2 and dims[-1] > 1:
            lead = [d for d in dims[:-1] if d != 1]
            return lead[0] if len(lead) == 1 else 0
        lead = [d for d in dims if d != 1]
        return lead[0] if len(lead) == 1 else 0
    kinds = ["class_scores" if classes(i) else "values" for i in range(len(shapes))]
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(shapes):
        n = anchors(s)
        if n > 1:
            groups.setdefault(n, []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        width = {i: int(shapes[i][-1]) if len(shapes[i]) >= 2 else 1 for i in members}
        named = {i: "boxes" if _BOX_NAMES.search(names[i]) else
                 "scores" if _SCORE_NAMES.search(names[i]) else None for i in members}
        widest = max(width.values())
        if not any(k == "boxes" for k in named.values()) and \
                list(width.values()).count(widest) > 1:
            continue   # nothing tells boxes from scores: not taken for a detector
        for i in members:
            kinds[i] = named[i] or ("boxes" if width[i] == widest and width[i] >= 4
                                    else "scores")
        if "boxes" not in (kinds[i] for i in members):
            for i in members:
                kinds[i] = "class_scores" if classes(i) else "values"
    return kinds


def _single_argmax(a: np.ndarray) -> int | None:
    """The index of the one highest value (None when it is tied or not finite)."""
    flat = a.reshape(-1)
    if not flat.size or not np.isfinite(flat).all():
        return None
    k = int(np.argmax(flat))
    return k if int(np.count_nonzero(flat == flat[k])) == 1 else None


def compare_output(name: str, kind: str, ref: list[np.ndarray], got: list[np.ndarray],
                   step: float | None = None) -> OutputCompare:
    """One output over every input (``ref``/``got``: one real-valued array per input)."""
    r = np.concatenate([a.reshape(-1) for a in ref]).astype(np.float64)
    g = np.concatenate([a.reshape(-1) for a in got]).astype(np.float64)
    if r.shape != g.shape:
        raise ValueError(f"output {name}: float model gives {r.size} values, quantized "
                         f"{g.size}")
    fin_r = r[np.isfinite(r)]
    float_max = float(np.abs(fin_r).max(initial=0.0))
    comparable = fin_r.size > 0 and float_max >= max(TINY_OUTPUT, step or 0.0)
    rf, gf, mismatched = _split(r, g)
    d = np.abs(rf - gf)
    many = len(ref) > 1
    q_const = many and all(np.array_equal(got[0], x, equal_nan=True) for x in got[1:])
    values = np.unique(g[np.isfinite(g)]) if q_const else np.array([])
    per_input = [cosine(a, b) for a, b in zip(ref, got, strict=True)]
    top1, counted = None, 0
    if kind == "class_scores":
        agree = []
        for a, b in zip(ref, got, strict=True):
            k = _single_argmax(a)
            if k is not None:
                agree.append(_single_argmax(b) == k)
        counted = len(agree)
        top1 = sum(agree) / counted if counted else None
    return OutputCompare(
        name=name, shape=[int(x) for x in ref[0].shape], kind=kind,
        cosine=cosine(r, g) if comparable else None,
        snr_db=snr_db(r, g) if comparable else None,
        cosine_range=[min(per_input), max(per_input)] if comparable else None,
        max_abs=_finite_or_none(float(d.max(initial=0.0))),
        top1_agreement=top1 if comparable else None, top1_inputs=counted if comparable else 0,
        float_max_abs=float_max, step=step,
        float_constant=many and all(np.array_equal(ref[0], x, equal_nan=True)
                                    for x in ref[1:]),
        quantized_constant=q_const,
        quantized_value=float(values[0]) if values.size == 1 else None,
        nonfinite=mismatched, float_nonfinite=int(r.size - fin_r.size))


def output_error(ref: list[list[np.ndarray]], got: list[list[np.ndarray]],
                 names: list[str] | None = None,
                 steps: list[float | None] | None = None,
                 activations: list[str | None] | None = None) -> OutputError:
    """ref/got: per sample, per output, real-valued arrays; ``steps``: each quantized output's
    quantization step (None where it is float); ``activations``: the op behind each output of
    the float model (``output_kinds``)."""
    n_out = len(ref[0]) if ref else 0
    names = names or [f"output {o}" for o in range(n_out)]
    steps = steps or [None] * n_out
    kinds = output_kinds(names, [ref[0][o].shape for o in range(n_out)], activations)
    outs: list[OutputCompare] = []
    abs_sum, count = 0.0, 0
    for o in range(n_out):
        if not ref[0][o].size:
            continue
        c = compare_output(names[o], kinds[o], [s[o] for s in ref], [s[o] for s in got],
                           steps[o])
        outs.append(c)
        rf, gf, _ = _split(np.concatenate([s[o].reshape(-1) for s in ref]),
                           np.concatenate([s[o].reshape(-1) for s in got]))
        abs_sum += float(np.abs(rf - gf).sum())
        count += rf.size
    cosines = [c.cosine for c in outs if c.cosine is not None]
    snrs = [c.snr_db for c in outs if c.snr_db is not None]
    diffs = [c.max_abs for c in outs if c.max_abs is not None]
    # the sums are of finite positions, so only an overflow to inf is left to guard against
    return OutputError(
        max_abs=max(diffs, default=0.0) if len(diffs) == len(outs) else None,
        mean_abs=_finite_or_none(abs_sum / count if count else 0.0),
        cosine=min(cosines) if cosines else None,
        snr_db=min(snrs) if snrs else None,
        top1_agreement=next((c.top1_agreement for c in outs if c.kind == "class_scores"),
                            None),
        nonfinite=sum(c.nonfinite for c in outs), inputs=len(ref), outputs=outs)


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def layer_error(ref: np.ndarray, got: np.ndarray) -> LayerError:
    """rmse and max_abs over the finite positions."""
    r, g, mismatched = _split(ref, got)
    d = r - g
    return LayerError(rmse=float(np.sqrt(np.mean(d * d))) if d.size else 0.0,
                      max_abs=float(np.abs(d).max()) if d.size else 0.0,
                      cosine=cosine(ref, got), nonfinite=mismatched)
