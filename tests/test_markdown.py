"""A recommendation as Markdown: one renderer (rules/markup.py) behind ``to_markdown()``, ``recommend --format md``
and ``Accept: text/markdown`` on POST /v1/recommendations. Read back with a real Markdown parser (markdown-it-py,
CommonMark with GFM tables, raw HTML allowed so that any markup that got through would show)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

import framework_advisor
from framework_advisor.probes.vocabulary import GOAL_LABELS
from framework_advisor.rules.recommendation import Recommendation
from tests.service_fixtures import run_cli
from tests.test_python_api import H100_SERVER, HOSTILE, hostile_recommendation

WINDOWS_LAPTOP = {"os": "windows", "arch": "x86_64", "cpu": {"model": "x", "cores": 8}, "memory_gb": 16,
                  "accelerators": []}
BODY = {"goals": ["research", "production"], "experience": "expert", "hardware": H100_SERVER}


def parse(markdown: str):
    return MarkdownIt("commonmark", {"html": True}).enable("table").parse(markdown)


def table_rows(tokens) -> list[list[str]]:
    """The cells of the first table's body rows, as text."""
    rows, row, inside = [], None, False
    for token in tokens:
        if token.type == "tbody_open":
            inside = True
        elif token.type == "tbody_close":
            return rows
        elif inside and token.type == "tr_open":
            row = []
        elif inside and token.type == "tr_close":
            rows.append(row)
        elif inside and token.type == "inline":
            row.append(_text(token))
    return rows


def _text(inline) -> str:
    return "".join(child.content for child in inline.children if child.type in ("text", "code_inline"))


def headings(tokens, level: str) -> list[str]:
    return [_text(tokens[index + 1]) for index, token in enumerate(tokens)
            if token.type == "heading_open" and token.tag == level]


def fences(tokens, info: str) -> list[str]:
    return [token.content for token in tokens if token.type == "fence" and token.info == info]


class _Html(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text.append(data)


def rendered(markdown: str) -> _Html:
    html = _Html()
    html.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    return html


# --- the renderer ----------------------------------------------------------------------------------


def test_markdown_has_the_ranking_in_order_with_reasons_install_commands_and_the_first_starter():
    answer = framework_advisor.recommend(BODY["goals"], BODY["experience"], H100_SERVER)
    tokens = parse(answer.to_markdown())
    # The answer first: the headline is the title, the first place's install command the first block.
    assert headings(tokens, "h1") == [answer.summary.headline]
    assert [row[:3] for row in table_rows(tokens)] == [[str(item.rank), item.name, f"{item.score:.2f}"]
                                                       for item in answer.ranking]
    assert headings(tokens, "h2")[:5] == [f"{item.rank}. {item.name}" for item in answer.ranking]
    assert fences(tokens, "sh") == [answer.ranking[0].install + "\n"] + [item.install + "\n" for item in answer.ranking]
    assert fences(tokens, "python") == [answer.ranking[0].starter.code.rstrip("\n") + "\n"]
    text = "".join(rendered(answer.to_markdown()).text)
    before_table = text[:text.index("Frameworks for")]
    assert f"Why: {answer.summary.why}" in before_table and f"Runner-up: {answer.summary.runner_up}" in before_table
    assert answer.what_would_change and all(change.message in before_table for change in answer.what_would_change)
    assert f"Frameworks for {GOAL_LABELS['research']}, {GOAL_LABELS['production']} (Expert)" in text
    assert "Installed here" not in text, "installed versions are this machine's, not the described one's"
    for item in answer.ranking:
        section = text[text.index(f"{item.rank}. {item.name}"):]
        for reason in item.reasons:
            if reason.counted:
                assert f"{reason.points:+.2f} {' '.join(reason.message.split())} ({reason.rule})" in section
            else:  # folded: one short line of rule ids and points, not the text again
                assert " ".join(reason.message.split()) not in section.split("\n## ")[0]
                assert f"{reason.rule} {reason.points:+.2f}" in section and "also (not counted" in section
    assert any(not reason.counted for item in answer.ranking for reason in item.reasons), "a folded reason to show"
    assert answer.confidence.message in text
    assert answer.rulebase.version in text


def test_an_unsupported_framework_says_so_in_markdown():
    answer = framework_advisor.recommend("learning", "beginner", WINDOWS_LAPTOP)
    mlx = next(item for item in answer.ranking if item.framework == "mlx")
    assert not mlx.supported
    row = next(row for row in table_rows(parse(answer.to_markdown())) if row[1] == "MLX")
    assert row[3] == "no"
    text = "".join(rendered(answer.to_markdown()).text)
    assert "MLX" in text and "cannot run on this hardware" in text
    assert all(reason.message.split()[0] in text for reason in mlx.reasons)


def test_markdown_escapes_every_text_it_holds():
    answer = hostile_recommendation()
    markdown = answer.to_markdown()
    html = rendered(markdown)
    # Only the constructs the renderer writes: a hostile text made no link, emphasis, image or raw HTML.
    assert html.tags <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "code", "pre",
                         "strong"}
    tokens = parse(markdown)
    rows = table_rows(tokens)
    assert len(rows) == 5 and all(len(row) == 5 for row in rows)  # the "|" in a name split no cell
    assert rows[0][1] == HOSTILE
    assert headings(tokens, "h2")[0] == f"1. {HOSTILE}"
    assert fences(tokens, "python") == [answer.ranking[0].starter.code]  # the ``` inside did not close it
    assert fences(tokens, "sh")[0] == answer.ranking[0].install + "\n"
    text = "".join(html.text)
    assert f"{answer.ranking[0].reasons[0].points:+.2f} {HOSTILE} ({HOSTILE})" in text
    assert HOSTILE in text.split("Hardware", 1)[1].split("\n")[0]  # the described machine's name, as text


# --- the command line ------------------------------------------------------------------------------




def test_recommend_format_md_prints_the_shared_markdown(tmp_path, capsys):
    path = tmp_path / "h100.json"
    path.write_text(json.dumps(H100_SERVER))
    common = ("recommend", "--goal", "research", "--goal", "production", "--experience", "expert", "--hardware",
              str(path))
    code, markdown, _ = run_cli(capsys, *common, "--format", "md")
    assert code == 0
    _, as_json, _ = run_cli(capsys, *common, "--json")
    as_answer = Recommendation.model_validate_json(as_json)
    assert markdown == as_answer.to_markdown()
    assert markdown == framework_advisor.recommend(["research", "production"], "expert", path).to_markdown()
    assert run_cli(capsys, *common, "--format", "json")[1] == as_json  # --json is --format json
    code, table, _ = run_cli(capsys, *common, "--format", "table")
    assert code == 0 and table == run_cli(capsys, *common)[1]  # table is the default
    assert table.splitlines()[0] == as_answer.summary.headline and "Start" in table


@pytest.mark.parametrize("extra,needle", [(("--format", "md", "--json"), "--json and --format md disagree"),
                                          (("--format", "html"), "'html'")])
def test_recommend_format_errors_are_one_line_exit_2(capsys, extra, needle):
    code, out, err = run_cli(capsys, "recommend", "--goal", "research", "--experience", "expert", *extra)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- HTTP: content negotiation ----------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["text/markdown", "text/markdown; charset=utf-8", "text/markdown;variant=GFM",
                                    "application/json;q=0.5, text/markdown", "text/*"])
def test_accept_markdown_gets_the_markdown_answer(client, accept):
    as_json = client.post("/v1/recommendations", json=BODY)
    response = client.post("/v1/recommendations", json=BODY, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == "text/markdown" and response.mimetype_params.get("charset") == "utf-8"
    assert "Accept" in response.vary and "Accept" in as_json.vary
    assert response.get_data(as_text=True) == Recommendation.model_validate(as_json.json).to_markdown()
    again = client.post("/v1/recommendations", json=BODY, headers={"Accept": accept})  # from the answer cache
    assert again.mimetype == "text/markdown" and again.data == response.data


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html", "text/markdown;q=0",
                                    "application/json, text/markdown", "text/markdown;q=0.4, application/json",
                                    "garbage;;;", "image/png"])
def test_any_other_accept_gets_json(client, accept):
    headers = {"Accept": accept} if accept is not None else {}
    response = client.post("/v1/recommendations", json=BODY, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert [item["rank"] for item in response.json["ranking"]] == [1, 2, 3, 4, 5]


def test_errors_stay_problem_json_when_markdown_is_asked_for(client):
    response = client.post("/v1/recommendations", json={"goals": ["gardening"], "experience": "expert"},
                           headers={"Accept": "text/markdown"})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["errors"][0]["pointer"] == "/goals/0"
