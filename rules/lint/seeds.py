"""Seed references with quotes, and the CLAIMS.md map of seed claims to rules, as the linter reads them.

A rule cites a seed article with the claim it encodes, quoted verbatim::

    refs:
      - 'seed:001_5893397b5c09f579.txt "MLX로 학습한 모델을 CoreML모델로 변환하는 기능이 없습니다."'
      - https://apple.github.io/coremltools/docs-guides/source/convert-pytorch-workflow.html

``seed:<file>`` names the file in the seeds folder; the phrase in double quotes after it is copied from the
file. A quote is compared with the seed after both are normalised the same way: runs of white space are one
space and the seeds' Markdown markup (``**``, ``[[``, ``]]``) is dropped; ``...`` (or ``…``) stands for
omitted words, so each part between them must occur, in order. CLAIMS.md uses the same quotes, one row per
claim: ``| 001-8 | "quote" | paraphrase | encoded by |`` under a ``## Seed 001`` heading, with rule ids in
backticks in its last column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SEED_REF = re.compile(r'^seed:(?P<file>[^\s"]+)(?:\s+"(?P<quote>[^"]+)")?$')
_MARKUP = re.compile(r"\*\*|\[\[|\]\]")
_GAP = re.compile(r"\s*(?:\.\.\.|…)\s*")
_SECTION = re.compile(r"^## Seed (\d{3})\b")
_CLAIM_ROW = re.compile(r"^\|\s*(\d{3}-\d+)\s*\|(.*)\|\s*$")
_QUOTED = re.compile(r'"([^"]+)"')
_CODE = re.compile(r"`([^`]+)`")
REVIEWED_LINE = re.compile(r"^Reviewed (\d{4}-\d{2}-\d{2})\.?\s*$")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", _MARKUP.sub("", text)).strip()


def parse_seed_ref(ref: str) -> tuple[str, str | None] | None:
    """(file, quote or None) for a well-formed ``seed:`` reference; None for a malformed one."""
    match = SEED_REF.match(ref.strip())
    if match is None:
        return None
    return match.group("file"), match.group("quote")


def quote_occurs(quote: str, seed_text: str) -> bool:
    """Whether the quote is in the seed: every part between ``...`` gaps, in order, after normalising both."""
    text = normalise(seed_text)
    position = 0
    parts = [part for part in _GAP.split(normalise(quote)) if part]
    if not parts:
        return False
    for part in parts:
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def same_quote(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


@dataclass
class Claim:
    """One row of CLAIMS.md."""

    claim_id: str  # "001-8"
    seed: str  # "001"
    line: int
    quotes: list[str]
    encoded_by: list[str]  # the backticked names of its last column


@dataclass
class ClaimsMap:
    path: Path
    claims: list[Claim] = field(default_factory=list)
    reviewed: tuple[str, int] | None = None  # the "Reviewed YYYY-MM-DD." line: (date, line)
    sections: dict[str, int] = field(default_factory=dict)  # seed number -> line of its heading
    # Rows of the other tables with an "encoded by" column (claims from official documentation): (line, names).
    other_rows: list[tuple[int, list[str]]] = field(default_factory=list)

    def for_seed(self, seed: str) -> list[Claim]:
        return [claim for claim in self.claims if claim.seed == seed]


def seed_number(file_name: str) -> str:
    """The three-digit number a seed file starts with ("001" for 001_5893397b5c09f579.txt)."""
    return file_name[:3]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def read_claims(path: Path) -> ClaimsMap:
    """The claim rows of each ``## Seed NNN`` section, the names in the "encoded by" column of the other tables,
    and the review date."""
    claims = ClaimsMap(path)
    section: str | None = None
    encoded_table = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("## "):
            heading = _SECTION.match(line)
            section = heading.group(1) if heading else None
            if section is not None:
                claims.sections[section] = number
            encoded_table = False
            continue
        reviewed = REVIEWED_LINE.match(line)
        if reviewed and claims.reviewed is None:
            claims.reviewed = (reviewed.group(1), number)
        if line.startswith("|") and not line.startswith("|---"):
            if _cells(line)[0] in ("#", "claim", "row"):  # a table's header
                encoded_table = _cells(line)[-1] == "encoded by"
                continue
            if section is None and encoded_table:
                claims.other_rows.append((number, _CODE.findall(_cells(line)[-1])))
        row = _CLAIM_ROW.match(line)
        if section is None or row is None:
            continue
        cells = [cell.strip() for cell in row.group(2).split(" | ")]
        quote_cell, encoded_cell = (cells[0], cells[-1]) if cells else ("", "")
        claims.claims.append(Claim(row.group(1), section, number, _QUOTED.findall(quote_cell),
                                   _CODE.findall(encoded_cell)))
    return claims
