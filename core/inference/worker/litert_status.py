"""LiteRT's C API status codes in words (``LiteRtStatus``, litert/c/litert_common.h).

The ``libLiteRt.so`` of ai-edge-litert 2.3 does not export ``LiteRtGetStatusString``, so a failed
C call would say only "status 3". The enum's names are stable across releases (the header keeps
them in step with the Kotlin and C++ APIs); the meanings are LiteLens' plain-words reading of them.
"""
from __future__ import annotations

# code: (enum name, what it means for the user)
STATUS: dict[int, tuple[str, str]] = {
    0: ("kLiteRtStatusOk", "success"),
    1: ("kLiteRtStatusErrorInvalidArgument", "an argument was refused (a shape, index or option "
                                             "the runtime does not accept)"),
    2: ("kLiteRtStatusErrorMemoryAllocationFailure", "the runtime could not allocate memory"),
    3: ("kLiteRtStatusErrorRuntimeFailure", "the runtime failed inside the call (often a tensor "
                                            "whose size is not known until it is resized, or a "
                                            "kernel that could not prepare)"),
    4: ("kLiteRtStatusErrorMissingInputTensor", "an input tensor was not given"),
    5: ("kLiteRtStatusErrorUnsupported", "the runtime does not support this here"),
    6: ("kLiteRtStatusErrorNotFound", "something the call looks up was not found"),
    7: ("kLiteRtStatusErrorTimeoutExpired", "the call timed out"),
    8: ("kLiteRtStatusErrorWrongVersion", "a version does not match what the runtime expects"),
    9: ("kLiteRtStatusErrorUnknown", "an unknown error"),
    10: ("kLiteRtStatusErrorAlreadyExists", "the object already exists"),
    100: ("kLiteRtStatusCancelled", "the inference was cancelled"),
    500: ("kLiteRtStatusErrorFileIO", "a file could not be read or written"),
    501: ("kLiteRtStatusErrorInvalidFlatbuffer", "the model file is not a valid flatbuffer"),
    502: ("kLiteRtStatusErrorDynamicLoading", "a library (accelerator, plugin, dispatch) could "
                                              "not be loaded"),
    503: ("kLiteRtStatusErrorSerialization", "serialization failed"),
    504: ("kLiteRtStatusErrorCompilation", "compiling the model for the accelerator failed"),
    1000: ("kLiteRtStatusErrorIndexOOB", "an index is out of range"),
    1001: ("kLiteRtStatusErrorInvalidIrType", "a tensor or op type is not valid here"),
    1002: ("kLiteRtStatusErrorInvalidGraphInvariant", "the graph breaks one of its invariants"),
    1003: ("kLiteRtStatusErrorGraphModification", "the graph could not be modified"),
    1500: ("kLiteRtStatusErrorInvalidToolConfig", "a tool's configuration is not valid"),
    2000: ("kLiteRtStatusLegalizeNoMatch", "no legalization matched"),
    2001: ("kLiteRtStatusErrorInvalidLegalization", "a legalization is not valid"),
    3000: ("kLiteRtStatusPatternNoMatch", "no pattern matched"),
    3001: ("kLiteRtStatusInvalidTransformation", "a transformation is not valid"),
    4000: ("kLiteRtStatusErrorUnsupportedRuntimeVersion", "the runtime version is not supported"),
    4001: ("kLiteRtStatusErrorUnsupportedCompilerVersion", "the compiler version is not "
                                                           "supported"),
    4002: ("kLiteRtStatusErrorIncompatibleByteCodeVersion", "the compiled byte code's version "
                                                            "does not match"),
    5000: ("kLiteRtStatusErrorUnsupportedOpShapeInferer", "no shape inference for an op"),
    5001: ("kLiteRtStatusErrorShapeInferenceFailed", "shape inference failed"),
}


def describe(status: int) -> str:
    """'kLiteRtStatusErrorRuntimeFailure (3): the runtime failed inside the call ...'; a code
    this table does not know says so."""
    name, meaning = STATUS.get(status, (None, None))
    if name is None:
        return f"status {status}, a code this LiteRT release's header does not define"
    return f"{name} ({status}): {meaning}"
