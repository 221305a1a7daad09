"""Which frameworks a text names, in the order it names them: the linter's and the tests' reading of what a
reason is about.

A reason is shown under one framework; it should name that framework, and name it before any other (the
first framework a reason names is taken as its subject). Names are matched as words, case-sensitive, by
the display name and the names people write for it (Keras and LiteRT for TensorFlow); lower-case package
and module names (``torch.export``, ``jax.numpy``, ``mlx-community``) are not mentions.
"""

from __future__ import annotations

import re

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS

# The words that name each framework in prose (the first is its short name).
FRAMEWORK_WORDS: dict[str, tuple[str, ...]] = {
    "pytorch": ("PyTorch",),
    "jax": ("JAX",),
    "mlx": ("MLX",),
    "tensorflow": ("TensorFlow", "Keras", "LiteRT"),
    "numpy": ("NumPy",),
}
if set(FRAMEWORK_WORDS) != set(FRAMEWORK_IDS):
    raise ImportError("FRAMEWORK_WORDS must name every framework of the vocabulary")

_WORD_TO_ID = {word: framework_id for framework_id, words in FRAMEWORK_WORDS.items() for word in words}
_MENTION = re.compile(r"(?<![A-Za-z0-9_.])(" + "|".join(sorted(map(re.escape, _WORD_TO_ID), key=len, reverse=True))
                      + r")(?![A-Za-z0-9_])")


def mentions(text: str) -> list[str]:
    """The framework ids a text names, in order of first appearance, each once."""
    found: list[str] = []
    for match in _MENTION.finditer(text):
        framework_id = _WORD_TO_ID[match.group(1)]
        if framework_id not in found:
            found.append(framework_id)
    return found


def subject(text: str) -> str | None:
    """The framework a text is about: the first it names (None when it names none)."""
    named = mentions(text)
    return named[0] if named else None
