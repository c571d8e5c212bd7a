"""Choose the answer pipeline's settings on the dev split only.

The grid: for each combination of fusion weight and word-support share of the rank, the ranking's
hit@1 / hit@3 (the gate ignored) and the confidence threshold that reaches the target precision with
the best coverage. ``--fit``: the logistic confidence model's coefficients (domain/confidence.py), fitted
to whether each dev question's first citation would be right, and the threshold they give.

Run after ``run.py --keep`` with ``.venv/bin/python bench/quality/tune.py --reuse STATE``. It never reads
the test split; report test figures with ``run.py --split test`` once the settings are chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from conversation_service.adapters.bilingual_dictionary import read_lexicon
from conversation_service.bootstrap import build_answer_engine
from conversation_service.domain.lexicon import GLOSSARY_ONLY, NO_LEXICON, Lexicon
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.embeddings import BuiltinEmbedder

if TYPE_CHECKING:  # see dataset.py
    from bench.quality.calibration import fit_lines
    from bench.quality.dataset import Question, load_questions
    from bench.quality.run import State, ask_agent
    from bench.quality.scoring import Outcome, best_threshold
else:
    from calibration import fit_lines
    from dataset import Question, load_questions
    from run import State, ask_agent
    from scoring import Outcome, best_threshold


def ranking_hits(outcomes: Sequence[Outcome]) -> tuple[float, float]:
    """hit@1 and hit@3 of the would-be citations over the answerable questions (the gate ignored)."""
    answerable = [item for item in outcomes if item.question.answerable]
    first = sum(bool(item.would_be) and item.would_be[0] in item.question.expected for item in answerable)
    three = sum(any(page in item.question.expected for page in item.would_be[:3]) for item in answerable)
    return first / len(answerable), three / len(answerable)


async def evaluate(
    state: State,
    questions: Sequence[Question],
    settings: ConversationSettings,
    embedder: BuiltinEmbedder,
    lexicon: Lexicon,
) -> list[Outcome]:
    """The agent's outcome for every question under ``settings``."""
    client = create_opensearch_client(settings.opensearch_url)
    try:
        engine = build_answer_engine(settings, client, embedder=embedder, lexicon=lexicon)
        return [await ask_agent(engine, state.accounts[item.corpus], item) for item in questions]
    finally:
        await client.close()


async def main() -> int:
    """Print one line per combination, best coverage at the target precision first."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reuse", type=Path, required=True, metavar="STATE", help="a state file of run.py --keep")
    parser.add_argument("--target-precision", type=float, default=0.8)
    parser.add_argument("--lexical", default="0.5,1,2", help="lexical fusion weights to try (dense weight 1)")
    parser.add_argument("--fit", action="store_true", help="fit the confidence model instead of the grid")
    parser.add_argument("--lexical-share", default="0.7", help="shares of word support in the rank to try")
    parser.add_argument(
        "--without-lexicon", action="store_true", help="experiment: neither the glossary nor a dictionary translates"
    )
    parser.add_argument(
        "--without-dictionaries", action="store_true", help="experiment: the support glossary alone translates"
    )
    args = parser.parse_args()
    if args.without_lexicon or args.without_dictionaries:
        lexicon = NO_LEXICON if args.without_lexicon else GLOSSARY_ONLY
    else:
        lexicon = read_lexicon(ConversationSettings().dictionary_dir)
    state = State.load(args.reuse)
    questions = [item for item in load_questions() if item.split == "dev"]
    embedder = BuiltinEmbedder()
    embedder.load()
    rows: list[tuple[float, str]] = []
    if args.fit:
        outcomes = await evaluate(state, questions, ConversationSettings(content_index=state.alias), embedder, lexicon)
        print("\n".join(fit_lines(outcomes, args.target_precision)))
        return 0
    grid = itertools.product(*(map(float, values.split(",")) for values in (args.lexical, args.lexical_share)))
    for lexical, lexical_share in grid:
        settings = ConversationSettings(
            content_index=state.alias, fusion_lexical_weight=lexical, rank_lexical_share=lexical_share
        )
        outcomes = await evaluate(state, questions, settings, embedder, lexicon)
        hit1, hit3 = ranking_hits(outcomes)
        best = best_threshold(outcomes, args.target_precision)
        chosen = (
            f"threshold {best.threshold:.3f} coverage {best.coverage or 0:.2f} abstention {best.abstention or 0:.2f}"
            if best
            else "target precision not reached"
        )
        line = f"lexical {lexical:<4g} share {lexical_share:<4g} hit@1 {hit1:.2f} hit@3 {hit3:.2f}  {chosen}"
        print(line, flush=True)
        rows.append(((best.coverage or 0.0) if best else -1.0, line))
    print("\nbest coverage at the target precision first:")
    for _, line in sorted(rows, reverse=True)[:5]:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
