"""The encoder's matrices in int8, quantised in memory by onnxruntime's own dynamic quantiser.

Per output channel, symmetric int8 weights; activations are quantised at run time (uint8). On
bench/quality's dev split it ranked as well as float32, at half the CPU and half the memory, but the
answer decision is calibrated on float32 vectors (see bench/quality/README.md): it is an opt-in
(``*_EMBEDDINGS_INT8``). This is what ``quantize_dynamic`` does, without the model file it reads and
writes.
"""

from __future__ import annotations

import logging

import onnx
from onnxruntime.quantization import QuantizationMode, QuantType
from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer
from onnxruntime.quantization.registry import IntegerOpsRegistry


class _QuantizerChatter(logging.Filter):
    """Drops the quantiser's INFO lines, a few per tensor (it logs through the root logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "onnxruntime" not in record.pathname


def quantize_encoder(encoder: onnx.ModelProto) -> bytes:
    """The serialised model with int8 weights (about 22 MB); ``encoder`` is consumed."""
    chatter = _QuantizerChatter()
    logging.getLogger().addFilter(chatter)
    try:
        return _quantize(encoder)
    finally:
        logging.getLogger().removeFilter(chatter)


def _quantize(encoder: onnx.ModelProto) -> bytes:
    quantizer = ONNXQuantizer(
        encoder,
        True,  # per channel
        False,  # reduce range (for old CPUs without VNNI-like instructions: not needed)
        QuantizationMode.IntegerOps,
        False,  # static
        QuantType.QInt8,
        QuantType.QUInt8,  # the only activation type of dynamic quantisation
        None,
        [],
        [],
        list(IntegerOpsRegistry),
        {"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )
    quantizer.quantize_model()
    return bytes(quantizer.model.model.SerializeToString())
