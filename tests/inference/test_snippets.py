"""Code that runs the model (core.inference.snippets, ``litelens code``): the Python programs are
run as written, in a subprocess with the real ai-edge-litert, on shared and built models; what they
print is checked against the model (output names, shapes, dtypes) and the Interpreter program
against the CompiledModel one (same stand-in inputs, same results). Kotlin and C++ cannot be
compiled here (no Android toolchain, no LiteRT C++ headers): they are checked for what they must
say (signature, threads, accelerator, every input and output, the right buffer writer per dtype)
and for balanced brackets."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.inference.snippets import SnippetError, code_snippet, code_spec
from core.model.reader import open_model
from tests.analysis import memory_models as M
from tests.analysis.dynamic_models import DYNAMIC
from tests.cli.test_report_cli import litelens
from tests.conftest import RUNNABLE, shared_model_path

TIMEOUT = 300


def _run(code: str, model, tmp_path, name: str = "run_model.py") -> dict[str, tuple]:
    """Run a generated program on ``model``; -> {output name: (shape, dtype, min, max, mean)}."""
    script = tmp_path / name
    script.write_text(code)
    p = subprocess.run([sys.executable, str(script), str(model)], capture_output=True,
                       text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    out = {}
    for line in p.stdout.splitlines():
        # "<name> [d, d] <dtype> min <v> max <v> mean <v>"
        head, _, stats = line.partition(" min ")
        name, _, rest = head.partition(" [")
        shape_text, _, dtype = rest.partition("] ")
        lo, _, tail = stats.partition(" max ")
        hi, _, mean = tail.partition(" mean ")
        out[name] = (json.loads(f"[{shape_text}]"), dtype, float(lo), float(hi), float(mean))
    return out


def _expected(path, signature: str | None = None, shapes=None) -> dict[str, tuple]:
    """Output names, static shapes and dtypes as the file states them (the reader)."""
    with open_model(path) as m:
        sig = next((s for s in m.signatures if s.key == signature),
                   m.signatures[0] if m.signatures else None)
        sg = m.subgraphs[sig.subgraph if sig else 0]
        pairs = list(sig.outputs.items()) if sig else [(sg.tensors[t].name, t)
                                                       for t in sg.outputs]
        return {n: (list(sg.tensors[t].shape), sg.tensors[t].dtype) for n, t in pairs}


def _check_both_apis(path, tmp_path, signature=None, shapes=None, delegate="xnnpack",
                     static_shapes=True):
    with open_model(path) as m:
        interp = code_snippet(m, "python", signature, delegate, 2, shapes)
        compiled = code_snippet(m, "python-compiled", signature, delegate, 2, shapes)
    a = _run(interp, path, tmp_path, "interp.py")
    b = _run(compiled, path, tmp_path, "compiled.py")
    want = _expected(path, signature)
    assert set(a) == set(b) == set(want), (a, b, want)
    for name, (shape, dtype) in want.items():
        assert a[name][1] == b[name][1] == dtype
        if static_shapes:
            assert a[name][0] == b[name][0] == shape
        # same stand-in inputs, same kernels: the same outputs
        for x, y in zip(a[name][2:], b[name][2:], strict=True):
            assert abs(x - y) <= 1e-4 * max(1.0, abs(x)), (name, a[name], b[name])
    return a


@pytest.mark.parametrize("name", RUNNABLE)
def test_python_programs_run_on_the_shared_models(name, tmp_path):
    _check_both_apis(shared_model_path(name), tmp_path)


def test_a_chosen_signature_runs(tmp_path):
    path = shared_model_path("multi_signature_float32")
    out = _check_both_apis(path, tmp_path, signature="encode")
    assert set(out) == {"code"}


@pytest.mark.parametrize("name", sorted(DYNAMIC))
def test_dynamic_inputs_run_at_the_chosen_shape(name, build_model, tmp_path):
    make, shapes = DYNAMIC[name]
    path = build_model(make(), f"{name}.tflite")
    out = _check_both_apis(path, tmp_path, shapes=shapes, static_shapes=False)
    with open_model(path) as m:
        code = code_snippet(m, "python", shapes=shapes)
    for dims in shapes.values():
        assert f"({', '.join(map(str, dims))})" in code
    if name == "audio_2d":   # MEAN over the frames of [3, 400]: one value per frame
        assert out["energy"][0] == [3]


@pytest.mark.parametrize("delegate", ["builtin", "reference"])
def test_kernel_choices_run(delegate, build_model, tmp_path):
    path = build_model(M.int8_convnet(), "int8.tflite")
    with open_model(path) as m:
        code = code_snippet(m, "python", delegate=delegate)
    assert {"builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
            "reference": "BUILTIN_REF"}[delegate] in code
    _check_both_apis(path, tmp_path, delegate=delegate)


def test_metadata_normalisation_reaches_the_code():
    """face_detection_short_range's metadata: an RGB image normalised (x - 127.5) / 127.5."""
    with open_model(shared_model_path("face_detection_short_range")) as m:
        spec = code_spec(m)
        python = code_snippet(m, "python")
        kotlin = code_snippet(m, "kotlin")
    (i,) = spec.inputs
    assert i.image and i.mean == [127.5] and i.std == [127.5]
    assert "(pixels - np.array([127.5], np.float32)) / np.array([127.5], np.float32)" in python
    assert "- 127.5f) / 127.5f" in kotlin


def _balanced(code: str) -> bool:
    depth = {"(": 0, "[": 0, "{": 0}
    close = {")": "(", "]": "[", "}": "{"}
    in_str = False
    prev = ""
    for ch in code:
        if ch == '"' and prev != "\\":
            in_str = not in_str
        elif not in_str:
            if ch in depth:
                depth[ch] += 1
            elif ch in close:
                depth[close[ch]] -= 1
                if depth[close[ch]] < 0:
                    return False
        prev = ch
    return not in_str and all(v == 0 for v in depth.values())


@pytest.mark.parametrize("name, signature", [("multi_signature_float32", "decode"),
                                             ("mobilenet_v2_224_int8", None),
                                             ("face_detection_short_range", None),
                                             ("transformer_encoder_dynint8", None)])
def test_kotlin_and_cpp_say_what_they_must(name, signature):
    with open_model(shared_model_path(name)) as m:
        spec = code_spec(m, signature, threads=3)
        kotlin = code_snippet(m, "kotlin", signature, threads=3)
        cpp = code_snippet(m, "cpp", signature, threads=3)
        gpu_kotlin = code_snippet(m, "kotlin", signature, "gpu")
        gpu_cpp = code_snippet(m, "cpp", signature, "gpu")
    for code in (kotlin, cpp, gpu_kotlin, gpu_cpp):
        assert _balanced(code), code
        for i in spec.inputs:
            assert json.dumps(i.name) in code
        for out, _ in spec.outputs:
            assert json.dumps(out) in code
        if spec.signature:
            assert json.dumps(spec.signature) in code
    assert "CompiledModel.CpuOptions(numThreads = 3)" in kotlin
    assert "Accelerator.CPU" in kotlin and "Accelerator.GPU" in gpu_kotlin
    assert "builder.SetNumThreads(3);" in cpp and "BuiltinOpResolver resolver;" in cpp
    assert "TfLiteGpuDelegateV2Create" in gpu_cpp and "ModifyGraphWithDelegate" in gpu_cpp
    # the buffer writer and reader fit each dtype
    writers = {"float32": "writeFloat", "int32": "writeInt", "int8": "writeInt8",
               "uint8": "writeInt8", "bool": "writeBoolean"}
    for k, i in enumerate(spec.inputs):
        assert f"inputBuffers[{k}].{writers[i.dtype]}(input{k})" in kotlin
    readers = {"float32": "readFloat", "int32": "readInt", "int8": "readInt8"}
    for k, (_, dtype) in enumerate(spec.outputs):
        assert f"outputBuffers[{k}].{readers[dtype]}()" in kotlin
    # C++: statements end with ';' or open/close a block
    body = cpp[cpp.index("int main"):].splitlines()[1:-1]
    assert all(x.rstrip().endswith((";", "{", "}", ",", "(")) or x.strip().startswith("//")
               or "//" in x for x in body), body


def test_choices_the_api_cannot_express_say_why():
    with open_model(shared_model_path("multi_signature_float32")) as m:
        with pytest.raises(SnippetError, match="no signature 'nope'"):
            code_snippet(m, "python", "nope")
        with pytest.raises(SnippetError, match="CompiledModel"):
            code_snippet(m, "python", delegate="gpu")
        assert "HardwareAccelerator.GPU" in code_snippet(m, "python-compiled", delegate="gpu")


def test_cli_prints_the_program(tmp_path):
    path = shared_model_path("multi_signature_float32")
    p = litelens("code", str(path), "--lang", "python", "--signature", "encode",
                 "--threads", "2")
    assert p.returncode == 0, p.stderr
    assert "get_signature_runner(\"encode\")" in p.stdout and "num_threads=2" in p.stdout
    assert set(_run(p.stdout, path, tmp_path)) == {"code"}
    bad = litelens("code", str(path), "--signature", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "no signature 'nope'" in bad.stderr
    gpu = litelens("code", str(path), "--delegate", "gpu")
    assert gpu.returncode == 2 and "python-compiled" in gpu.stderr
