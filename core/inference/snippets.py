"""Code that runs this model: a short program for Python (ai-edge-litert's ``Interpreter`` or
its ``CompiledModel``), Kotlin (LiteRT's ``CompiledModel`` on Android) or C++ (the TensorFlow
Lite C++ API LiteRT keeps), for the signature, delegate and threads chosen, with each input's
name, shape and dtype and, where the model's metadata gives them, its normalisation.

``code_spec`` gathers the facts once (``CodeSpec``); ``code_snippet`` writes them in a language.
Inputs are stand-in data (seeded, in the range the input expects) with a comment saying what real
data goes there; the Python programs run as written (the tests run them on real models).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from core.inference.inputs import input_specs
from core.model.types import Model, numpy_dtype

LANGUAGES = {"python": "Python (ai-edge-litert Interpreter)",
             "python-compiled": "Python (ai-edge-litert CompiledModel)",
             "kotlin": "Kotlin (LiteRT CompiledModel, Android)",
             "cpp": "C++ (TensorFlow Lite C++ API)"}
SNIPPET_DELEGATES = ("xnnpack", "builtin", "reference", "gpu")


class SnippetError(ValueError):
    """A choice the chosen API cannot express (one line, said to the user as is)."""


@dataclass(frozen=True)
class CodeInput:
    name: str                       # the feed's name: signature input name, else tensor name
    tensor: str                     # the tensor's name in the model
    shape: tuple[int, ...]          # concrete (dynamic dims resolved)
    shape_signature: tuple[int, ...]
    dtype: str
    scale: float | None = None      # per-tensor quantization
    zero_point: int | None = None
    mean: list[float] | None = None  # metadata normalisation: (x - mean) / std
    std: list[float] | None = None
    image: bool = False             # an NHWC image (metadata content, or normalisation + shape)

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)


@dataclass(frozen=True)
class CodeSpec:
    model_file: str                 # the file name the program loads by default
    signature: str | None           # None: the model has no signatures (subgraph 0)
    signature_index: int
    delegate: str
    threads: int
    inputs: list[CodeInput]
    outputs: list[tuple[str, str]]  # (name, dtype), in the signature's (or subgraph's) order
    notes: list[str] = field(default_factory=list)


def code_spec(model: Model, signature: str | None = None, delegate: str = "xnnpack",
              threads: int = 1, shapes: Mapping[str, Sequence[int]] | None = None) -> CodeSpec:
    """The facts a program needs: signature (the first when None and the model has some),
    inputs with shapes (``shapes`` for dynamic ones, by tensor name), dtypes, quantization and
    metadata normalisation, outputs."""
    from pathlib import Path

    from core.model.metadata import model_metadata
    if delegate not in SNIPPET_DELEGATES:
        raise SnippetError(f"delegate {delegate!r}: code can be written for "
                           f"{', '.join(SNIPPET_DELEGATES)}")
    if threads < 1:
        raise SnippetError(f"threads must be at least 1, not {threads}")
    sigs = model.signatures
    if signature is not None and signature not in [s.key for s in sigs]:
        raise SnippetError(f"{model.path}: no signature {signature!r} (signatures: "
                           f"{', '.join(repr(s.key) for s in sigs) or 'none'})")
    sig = next((s for s in sigs if s.key == signature), sigs[0] if sigs else None)
    si = sig.subgraph if sig is not None else 0
    sg = model.subgraphs[si]
    specs = {s.name: s for s in input_specs(model, shapes, si)}
    contents = {}
    if si == 0:
        meta = model_metadata(model)
        contents = {sg.tensors[t].name: (mi.content or "") for t, mi in zip(sg.inputs,
                                                                            meta.inputs,
                                                                            strict=False)}
    feeds = list(sig.inputs.items()) if sig is not None else \
        [(sg.tensors[t].name, t) for t in sg.inputs]
    inputs = []
    for name, t in feeds:
        s = specs.get(sg.tensors[t].name)
        if s is None:
            raise SnippetError(f"{model.path}: signature input {name!r} is not an input of "
                               f"subgraph {si}")
        if numpy_dtype(s.dtype) is None:
            raise SnippetError(f"{model.path}: input {name!r} is {s.dtype}: no stand-in data "
                               "can be written for it")
        image = contents.get(s.name, "").startswith("image") or (
            s.mean is not None and len(s.shape) == 4 and s.shape[3] in (1, 3))
        inputs.append(CodeInput(name, s.name, tuple(s.shape), tuple(s.shape_signature),
                                s.dtype, s.scale, s.zero_point, s.mean, s.std, image))
    outputs = [(name, sg.tensors[t].dtype) for name, t in sig.outputs.items()] \
        if sig is not None else [(sg.tensors[t].name, sg.tensors[t].dtype) for t in sg.outputs]
    notes = []
    if any(i.dynamic for i in inputs):
        notes.append("dynamic inputs are given the shapes shown; set your own")
    return CodeSpec(Path(model.path).name if model.path else "model.tflite",
                    sig.key if sig is not None else None,
                    [s.key for s in sigs].index(sig.key) if sig is not None else 0,
                    delegate, threads, inputs, outputs, notes)


def code_snippet(model: Model, language: str, signature: str | None = None,
                 delegate: str = "xnnpack", threads: int = 1,
                 shapes: Mapping[str, Sequence[int]] | None = None) -> str:
    """A program in ``language`` (a key of LANGUAGES) that runs the model as chosen."""
    writers = {"python": _python_interpreter, "python-compiled": _python_compiled,
               "kotlin": _kotlin, "cpp": _cpp}
    if language not in writers:
        raise SnippetError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
    return writers[language](code_spec(model, signature, delegate, threads, shapes))


# -- helpers ---------------------------------------------------------------------------------
def _q(text: str) -> str:
    """A string literal for Python, Kotlin and C++ alike (JSON's escapes are valid in all)."""
    return json.dumps(text)


def _what(i: CodeInput) -> str:
    shape = "[" + ", ".join(map(str, i.shape)) + "]"
    parts = [f"{i.dtype} {shape}"]
    if i.dynamic:
        parts.append("dynamic: signature [" + ", ".join(map(str, i.shape_signature)) + "]")
    if i.scale is not None:
        parts.append(f"quantized: real = {i.scale:.6g} * (q - {i.zero_point or 0})")
    if i.image:
        parts.append("an image" + (f", normalised (x - {i.mean}) / {i.std} (model metadata)"
                                   if i.mean is not None and i.std is not None else ""))
    return "; ".join(parts)


def _delegate_words(spec: CodeSpec) -> str:
    return {"xnnpack": "XNNPACK (LiteRT's default CPU path)",
            "builtin": "the builtin kernels (default delegates off)",
            "reference": "the reference kernels",
            "gpu": "the GPU"}[spec.delegate] + f", {spec.threads} thread(s)"


def _header(spec: CodeSpec, comment: str, api: str) -> list[str]:
    sig = f"signature {spec.signature!r}" if spec.signature else "subgraph 0 (no signatures)"
    lines = [f"{comment} Runs {spec.model_file} with {api}:",
             f"{comment} {_delegate_words(spec)}, {sig}.",
             f"{comment} Written by LiteLens. Inputs are stand-in data: replace them with yours."]
    lines += [f"{comment} Note: {n}." for n in spec.notes]
    return lines


# -- Python ----------------------------------------------------------------------------------
def _python_inputs(spec: CodeSpec) -> list[str]:
    lines = ["rng = np.random.default_rng(0)", "inputs = {}"]
    for i in spec.inputs:
        shape = "(" + ", ".join(map(str, i.shape)) + ("," if len(i.shape) == 1 else "") + ")"
        dt = f"np.{i.dtype}" if i.dtype != "bool" else "np.bool_"
        lines.append(f"# {_q(i.name)}: {_what(i)}")
        key = f"inputs[{_q(i.name)}]"
        if i.image:
            h, w = (i.shape[1], i.shape[2]) if len(i.shape) == 4 else (0, 0)
            lines += [
                "# a real image instead of the stand-in pixels:",
                "#   from PIL import Image",
                f"#   pixels = np.asarray(Image.open(\"photo.jpg\").convert(\"RGB\")"
                f".resize(({w}, {h})), np.float32)[None]",
                f"pixels = rng.uniform(0, 255, {shape}).astype(np.float32)"]
            if i.dtype.startswith("float"):
                if i.mean is not None and i.std is not None:
                    lines.append(f"{key} = ((pixels - np.array({i.mean}, np.float32)) / "
                                 f"np.array({i.std}, np.float32)).astype({dt})")
                else:
                    lines.append(f"{key} = (pixels / 255.0).astype({dt})")
            elif i.dtype == "int8":
                lines.append(f"{key} = (pixels - 128).astype(np.int8)")
            else:
                lines.append(f"{key} = pixels.astype({dt})")
        elif i.dtype == "bool":
            lines.append(f"{key} = rng.integers(0, 2, {shape}).astype(np.bool_)")
        elif i.dtype.startswith(("int", "uint")):
            if i.scale is not None:
                lines.append(f"{key} = rng.integers(np.iinfo({dt}).min, np.iinfo({dt}).max + 1, "
                             f"{shape}).astype({dt})  # any quantized value")
            elif i.dtype == "uint8":
                lines.append(f"{key} = rng.integers(0, 256, {shape}).astype({dt})")
            else:
                lines.append(f"{key} = rng.integers(0, 10, {shape}).astype({dt})  # small ids")
        else:
            lines.append(f"{key} = rng.uniform(0, 1, {shape}).astype({dt})")
    return lines


_PRINT_OUTPUT = ("    print(name, list(value.shape), value.dtype, "
                 "f\"min {value.min():.6g} max {value.max():.6g} "
                 "mean {value.astype(np.float64).mean():.6g}\")")


def _python_interpreter(spec: CodeSpec) -> str:
    if spec.delegate == "gpu":
        raise SnippetError("ai-edge-litert's Interpreter takes no GPU delegate of its own: "
                           "choose python-compiled (CompiledModel) for the GPU")
    resolver = {"xnnpack": "AUTO", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
                "reference": "BUILTIN_REF"}[spec.delegate]
    lines = _header(spec, "#", "ai-edge-litert's Interpreter")
    lines += ["# pip install ai-edge-litert numpy", "import sys", "", "import numpy as np",
              "from ai_edge_litert.interpreter import Interpreter, OpResolverType", "",
              f"MODEL = sys.argv[1] if len(sys.argv) > 1 else {_q(spec.model_file)}", ""]
    lines += _python_inputs(spec)
    lines += ["",
              f"interpreter = Interpreter(model_path=MODEL, num_threads={spec.threads},",
              f"                          experimental_op_resolver_type=OpResolverType."
              f"{resolver})"]
    if spec.signature is not None:
        lines += [f"runner = interpreter.get_signature_runner({_q(spec.signature)})",
                  "outputs = runner(**inputs)  # resizes the inputs to these arrays' shapes",
                  "for name, value in outputs.items():", _PRINT_OUTPUT]
    else:
        lines += ["for d in interpreter.get_input_details():",
                  "    if tuple(d[\"shape\"]) != inputs[d[\"name\"]].shape:",
                  "        interpreter.resize_tensor_input(d[\"index\"], "
                  "inputs[d[\"name\"]].shape)",
                  "interpreter.allocate_tensors()",
                  "for d in interpreter.get_input_details():",
                  "    interpreter.set_tensor(d[\"index\"], inputs[d[\"name\"]])",
                  "interpreter.invoke()",
                  "for d in interpreter.get_output_details():",
                  "    name, value = d[\"name\"], interpreter.get_tensor(d[\"index\"])",
                  _PRINT_OUTPUT]
    return "\n".join(lines) + "\n"


def _python_compiled(spec: CodeSpec) -> str:
    lines = _header(spec, "#", "ai-edge-litert's CompiledModel")
    lines += ["# pip install ai-edge-litert numpy", "import sys", "", "import numpy as np",
              "from ai_edge_litert.compiled_model import CompiledModel"]
    if spec.delegate != "gpu":
        lines.append("from ai_edge_litert.cpu_kernel_mode import CpuKernelMode")
    lines += ["from ai_edge_litert.hardware_accelerator import HardwareAccelerator",
              "from ai_edge_litert.options import CpuOptions, Options", "",
              f"MODEL = sys.argv[1] if len(sys.argv) > 1 else {_q(spec.model_file)}", ""]
    lines += _python_inputs(spec)
    if spec.delegate == "gpu":
        lines += ["", "options = Options(hardware_accelerators=HardwareAccelerator.GPU,",
                  f"                  cpu_options=CpuOptions(num_threads={spec.threads}))"]
    else:
        mode = {"xnnpack": "XNNPACK", "builtin": "BUILTIN", "reference": "REFERENCE"}
        lines += ["", "options = Options(hardware_accelerators=HardwareAccelerator.CPU,",
                  f"                  cpu_options=CpuOptions(num_threads={spec.threads}, "
                  f"kernel_mode=CpuKernelMode.{mode[spec.delegate]}))"]
    lines += ["model = CompiledModel.from_file(MODEL, options=options)",
              "signatures = list(model.get_signature_list())",
              (f"signature = {_q(spec.signature)}" if spec.signature is not None else
               "signature = signatures[0]  # the model has none: the runtime's default one"),
              "index = signatures.index(signature)",
              "details = model.get_input_tensor_details(signature)",
              "feeds = list(inputs.values())  # in the signature's order",
              "for k, d in enumerate(details.values()):",
              "    if tuple(d[\"shape\"]) != feeds[k].shape:",
              "        model.resize_input_tensor(k, list(feeds[k].shape), index)",
              "input_buffers = model.create_input_buffers(index)",
              "output_buffers = model.create_output_buffers(index)",
              "for buffer, value in zip(input_buffers, feeds):",
              "    buffer.write(value)",
              "model.run_by_index(index, input_buffers, output_buffers)",
              "for buffer, (name, d) in zip(output_buffers, "
              "model.get_output_tensor_details(signature).items()):",
              "    shape = [int(x) for x in d[\"shape\"]]",
              "    value = buffer.read(int(np.prod(shape)), np.dtype(d[\"dtype\"]))"
              ".reshape(shape)",
              _PRINT_OUTPUT]
    return "\n".join(lines) + "\n"


# -- Kotlin ----------------------------------------------------------------------------------
_KOTLIN_ARRAYS = {"float32": ("FloatArray", "writeFloat", "readFloat"),
                  "int32": ("IntArray", "writeInt", "readInt"),
                  "int8": ("ByteArray", "writeInt8", "readInt8"),
                  "uint8": ("ByteArray", "writeInt8", "readInt8"),
                  "bool": ("BooleanArray", "writeBoolean", "readBoolean")}


def _kotlin(spec: CodeSpec) -> str:
    accel = "GPU" if spec.delegate == "gpu" else "CPU"
    lines = _header(spec, "//", "LiteRT's CompiledModel on Android")
    if spec.delegate in ("builtin", "reference"):
        lines.append(f"// Note: the Kotlin API has no {spec.delegate}-kernel choice; its CPU "
                     "path is XNNPACK.")
    lines += ["// build.gradle: implementation(\"com.google.ai.edge.litert:litert:2.3.0\")"
              + (" and litert-gpu" if accel == "GPU" else ""),
              "// The model goes in app/src/main/assets/.",
              "import android.content.Context",
              "import com.google.ai.edge.litert.Accelerator",
              "import com.google.ai.edge.litert.CompiledModel", "",
              "fun runModel(context: Context) {",
              f"    val options = CompiledModel.Options(Accelerator.{accel})",
              f"    options.cpuOptions = CompiledModel.CpuOptions(numThreads = {spec.threads})",
              f"    val model = CompiledModel.create(context.assets, {_q(spec.model_file)}, "
              "options)"]
    sig = f"{_q(spec.signature)}" if spec.signature is not None else None
    lines += [f"    val inputBuffers = model.createInputBuffers({sig or ''})",
              f"    val outputBuffers = model.createOutputBuffers({sig or ''})"]
    for k, i in enumerate(spec.inputs):
        size = 1
        for d in i.shape:
            size *= d
        lines.append(f"    // input {k} {_q(i.name)}: {_what(i)}")
        kind = _KOTLIN_ARRAYS.get(i.dtype)
        if kind is None:
            lines.append(f"    // {i.dtype} has no TensorBuffer writer in the Kotlin API: write "
                         "it through a native TensorBuffer")
            continue
        array, write, _ = kind
        if i.image and i.dtype == "float32" and i.mean is not None and i.std is not None:
            mean, std = i.mean[0], i.std[0]
            lines += [f"    // pixels (0-255, RGB, {i.shape[1]}x{i.shape[2]}) normalised as "
                      f"(x - {mean}) / {std}",
                      f"    val input{k} = FloatArray({size}) {{ ((it % 256) - {mean}f) / "
                      f"{std}f }}"]
        elif array == "FloatArray":
            lines.append(f"    val input{k} = FloatArray({size}) {{ 0.5f }}")
        elif array == "IntArray":
            lines.append(f"    val input{k} = IntArray({size}) {{ 0 }}")
        elif array == "ByteArray":
            fill = i.zero_point or 0
            lines.append(f"    val input{k} = ByteArray({size}) {{ {fill}.toByte() }}")
        else:
            lines.append(f"    val input{k} = BooleanArray({size}) {{ false }}")
        lines.append(f"    inputBuffers[{k}].{write}(input{k})")
    lines.append(f"    model.run(inputBuffers, outputBuffers{', ' + sig if sig else ''})")
    for k, (name, dtype) in enumerate(spec.outputs):
        kind = _KOTLIN_ARRAYS.get(dtype)
        lines.append(f"    val output{k} = outputBuffers[{k}].{kind[2]}()  // {_q(name)}, {dtype}"
                     if kind else f"    // output {k} {_q(name)} is {dtype}: no TensorBuffer "
                     "reader for it in the Kotlin API")
    lines += ["    model.close()", "}"]
    return "\n".join(lines) + "\n"


# -- C++ -------------------------------------------------------------------------------------
_CPP_TYPES = {"float32": "float", "float16": "uint16_t", "int32": "int32_t", "int64": "int64_t",
              "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "bool": "bool",
              "float64": "double", "uint16": "uint16_t", "uint32": "uint32_t",
              "uint64": "uint64_t"}


def _cpp(spec: CodeSpec) -> str:
    resolver = {"xnnpack": "BuiltinOpResolver",
                "builtin": "BuiltinOpResolverWithoutDefaultDelegates",
                "reference": "BuiltinRefOpResolver",
                "gpu": "BuiltinOpResolverWithoutDefaultDelegates"}[spec.delegate]
    lines = _header(spec, "//", "the TensorFlow Lite C++ API")
    lines += ["// Link against LiteRT's C++ library (libtensorflowlite, or tensorflow-lite "
              "in CMake).",
              "#include <cstdio>", "#include <memory>", "",
              "#include \"tensorflow/lite/interpreter.h\"",
              "#include \"tensorflow/lite/interpreter_builder.h\"",
              "#include \"tensorflow/lite/kernels/register.h\""]
    if spec.delegate == "reference":
        lines.append("#include \"tensorflow/lite/kernels/register_ref.h\"")
    if spec.delegate == "gpu":
        lines.append("#include \"tensorflow/lite/delegates/gpu/delegate.h\"")
    lines += ["#include \"tensorflow/lite/model_builder.h\"", "",
              "int main(int argc, char** argv) {",
              f"  const char* path = argc > 1 ? argv[1] : {_q(spec.model_file)};",
              "  auto model = tflite::FlatBufferModel::BuildFromFile(path);",
              "  if (!model) return 1;",
              f"  tflite::ops::builtin::{resolver} resolver;",
              "  tflite::InterpreterBuilder builder(*model, resolver);",
              f"  builder.SetNumThreads({spec.threads});",
              "  std::unique_ptr<tflite::Interpreter> interpreter;",
              "  if (builder(&interpreter) != kTfLiteOk) return 1;"]
    if spec.delegate == "gpu":
        lines += ["  TfLiteGpuDelegateOptionsV2 gpu_options = TfLiteGpuDelegateOptionsV2Default();",
                  "  std::unique_ptr<TfLiteDelegate, decltype(&TfLiteGpuDelegateV2Delete)> gpu(",
                  "      TfLiteGpuDelegateV2Create(&gpu_options), &TfLiteGpuDelegateV2Delete);",
                  "  if (interpreter->ModifyGraphWithDelegate(gpu.get()) != kTfLiteOk) "
                  "return 1;"]
    if spec.signature is not None:
        lines += [f"  tflite::SignatureRunner* runner = interpreter->GetSignatureRunner("
                  f"{_q(spec.signature)});",
                  "  if (runner == nullptr) return 1;"]
        for i in spec.inputs:
            if i.dynamic:
                lines.append(f"  runner->ResizeInputTensor({_q(i.name)}, {{"
                             + ", ".join(map(str, i.shape)) + "});")
        lines.append("  if (runner->AllocateTensors() != kTfLiteOk) return 1;")
    else:
        for k, i in enumerate(spec.inputs):
            if i.dynamic:
                lines.append(f"  interpreter->ResizeInputTensor(interpreter->inputs()[{k}], {{"
                             + ", ".join(map(str, i.shape)) + "});")
        lines.append("  if (interpreter->AllocateTensors() != kTfLiteOk) return 1;")
    for k, i in enumerate(spec.inputs):
        ctype = _CPP_TYPES.get(i.dtype, "uint8_t")
        count = 1
        for d in i.shape:
            count *= d
        tensor = (f"runner->input_tensor({_q(i.name)})" if spec.signature is not None
                  else f"interpreter->input_tensor({k})")
        lines += [f"  // {_q(i.name)}: {_what(i)}",
                  f"  {ctype}* in{k} = reinterpret_cast<{ctype}*>({tensor}->data.raw);"]
        if i.image and i.dtype == "float32" and i.mean is not None and i.std is not None:
            lines.append(f"  for (int j = 0; j < {count}; ++j) in{k}[j] = "
                         f"((j % 256) - {i.mean[0]}f) / {i.std[0]}f;  // your pixels here")
        else:
            fill = i.zero_point if i.scale is not None and i.zero_point else 0
            lines.append(f"  for (int j = 0; j < {count}; ++j) in{k}[j] = {ctype}({fill});"
                         "  // your data here")
    lines.append("  if (" + ("runner->Invoke()" if spec.signature is not None
                             else "interpreter->Invoke()") + " != kTfLiteOk) return 1;")
    for k, (name, _dtype) in enumerate(spec.outputs):
        tensor = (f"runner->output_tensor({_q(name)})" if spec.signature is not None
                  else f"interpreter->output_tensor({k})")
        lines += [f"  const TfLiteTensor* out{k} = {tensor};",
                  f"  std::printf(\"%s: %zu bytes\\n\", {_q(name)}, out{k}->bytes);"]
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"
