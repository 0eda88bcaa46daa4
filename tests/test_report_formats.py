"""Every rendering escapes what plugins, datasets and users write: hostile stainer names, presets,
params, dataset names, notes, metric names, pipelines and reasons, in Markdown, LaTeX, HTML, CSV,
JSON and the Rich table; and the text checks a LaTeX table passes even without a LaTeX engine."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from vbench.cli import main
from vbench.report import build_leaderboard, render
from vbench.report.escape import csv_text, json_in_script, latex, markdown, plain
from vbench.report.terminal import rich_tables
from vbench.stats import summarize
from vbench.store import Store

XSS = "<img src=x onerror=alert(1)>"
HOSTILE = [
    XSS,
    "a|b",
    "</script><script>alert(2)</script>",
    "=cmd|' /C calc'!A0",
    "50% & $x_1$ #1 {~^\\}",
    "bold **x** `code` [link](javascript:alert(3))",
    "esc\x1b[31mred\x1b[0m\x00nul",
    "right\u202eleft",
    "Müller—é😀",
    "multi\nline\ttab",
    "quote \" and '",
    "--en ''quote''",
]


def make_store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    for i, name in enumerate(HOSTILE):
        run_id = store.create_run(
            stainer=name,
            preset=f"p{i}&{{}}",
            params={"k<>": name},
            vbench_version="0",
            run_key=f"k{i}",
            dataset=f"ds {XSS} & 100%",
            manifest_hash=f"m{XSS}",
            dataset_note=f"note {XSS} | $",
            seed=0,
            device="cpu",
            hardware={"cpu": f"cpu {XSS}"},
        )
        values = [20.0 + i + 0.1 * t for t in range(5)]
        store.finish_run(
            run_id,
            [(f"m{XSS}", f"t{t}", v) for t, v in enumerate(values)],
            [
                dict(
                    metric=f"m{XSS}",
                    higher_is_better=True,
                    pipeline=f"pipe {XSS} | `x` $",
                    status="computed",
                    reason=None,
                    **summarize(values),
                ),
                dict(
                    metric=f"hidden{XSS}",
                    higher_is_better=True,
                    pipeline="",
                    status="not computed",
                    reason=f"needs {XSS} | file",
                    n=0,
                ),
            ],
            infer_ms_p50=1.0 + i,
        )
    return store


@pytest.fixture
def boards(tmp_path):
    return build_leaderboard(make_store(tmp_path))


def test_markdown_has_no_raw_html_and_no_broken_cells(boards):
    md = render(boards, "md")
    header = next(line for line in md.splitlines() if line.startswith("| rank"))
    assert "<img" not in md and "<script" not in md and "</script" not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            # every cell separator is an unescaped pipe; the header has as many as each row
            assert len(re.findall(r"(?<!\\)\|", line)) == len(re.findall(r"(?<!\\)\|", header)), line
    assert "\x1b" not in md and "\x00" not in md and "\u202e" not in md and "\\x1b" in md
    assert "\\*\\*x\\*\\*" in md and "\\[link\\]" in md


def test_latex_escapes_every_special_character(boards):
    tex = render(boards, "latex")
    for raw in (XSS, "$x_1$", "50% &", "{~^\\}", "\x1b", "😀"):
        assert raw not in tex
    assert r"50\% \& \$x\_1\$ \#1 \{\textasciitilde{}\textasciicircum{}\textbackslash{}\}" in tex
    assert r"\textless{}img src=x onerror=alert(1)\textgreater{}" in tex
    assert "M\u00fcller" in tex and r"\textemdash{}" in tex and "-{}-en '{}'quote'{}'" in tex
    check_latex(tex)


def test_html_escapes_text_attributes_and_embedded_json(boards):
    html = render(boards, "html")
    assert XSS not in html and "<script>alert" not in html
    assert html.count("<script") == 2 and html.count("</script>") == 2  # the JSON and the page's own script
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    data = re.search(r'<script type="application/json" id="vbench-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data and ">" not in data
    assert json.loads(data)[0]["dataset"] == f"ds {XSS} & 100%"  # the JSON stays exact
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "nothing may load from the network"


def test_csv_cells_are_text_not_formulas(boards):
    rows = list(csv.DictReader(io.StringIO(render(boards, "csv"))))
    assert len(rows) == len(HOSTILE)
    stainers = {r["stainer"] for r in rows}
    assert "'=cmd|' /C calc'!A0" in stainers and XSS in stainers
    assert "multi line tab" in stainers and not any("\x1b" in s for s in stainers)
    assert all(not r["label"].startswith(("=", "+", "@")) for r in rows)


def test_json_and_rich_table_keep_names_exact_but_inert(boards, capsys):
    data = json.loads(render(boards, "json"))
    assert {r["stainer"] for r in data[0]["rows"]} == set(HOSTILE)
    from vbench.cli.common import out

    for t in rich_tables(boards):
        out.print(t)
    printed = capsys.readouterr().out
    assert "\x1b[31m" not in printed and "esc\\x1b[31mred" in printed.replace("\n", "")


def test_cli_leaderboard_in_every_format_with_a_hostile_name(tmp_path, capsys):
    store = make_store(tmp_path)
    db = store.url
    for fmt in ("md", "csv", "json", "latex", "table"):
        assert main(["leaderboard", "--db", db, "-f", fmt]) == 0
        printed = capsys.readouterr().out
        assert "\x1b[31m" not in printed
        if fmt in ("md", "latex"):
            assert XSS not in printed
    assert main(["leaderboard", "--db", db, "-f", "html", "-o", str(tmp_path / "page")]) == 0
    assert XSS not in (tmp_path / "page" / "index.html").read_text()


def test_escapers_directly():
    assert plain("a\x07b\r\nc") == "a\\x07b  c"
    assert markdown("x|y<z>&") == "x\\|y&lt;z&gt;&amp;"
    assert latex("~^") == r"\textasciitilde{}\textasciicircum{}"
    assert latex("ðÞ") == "??" and latex("ﬁ") == "fi"
    assert csv_text("+1") == "'+1" and csv_text("-x") == "'-x" and csv_text("ok") == "ok"
    assert "\\u003c/script\\u003e" in json_in_script(["</script>"])
    assert "\\u2028" in json_in_script(["\u2028"])


# --- a strict check of LaTeX tables, run with or without a LaTeX engine ---------------------------

ALLOWED = {
    "begin",
    "end",
    "centering",
    "caption",
    "label",
    "resizebox",
    "linewidth",
    "toprule",
    "midrule",
    "bottomrule",
    "textbf",
    "underline",
    "pm",
    "par",
    "smallskip",
    "footnotesize",
    "ensuremath",
    "uparrow",
    "downarrow",
    "Delta",
    "textless",
    "textgreater",
    "textbar",
    "textbackslash",
    "textasciitilde",
    "textasciicircum",
    "textquotedblright",
    "textemdash",
    "textendash",
    "ldots",
    "times",
    "circ",
    "mu",
    "&",
    "%",
    "$",
    "#",
    "_",
    "{",
    "}",
    "`",
    "\\",
}
ENVIRONMENTS = {"table", "tabular", "minipage"}


def check_latex(tex: str) -> None:
    """Balanced braces and environments, only known commands, no unescaped special character,
    math only where vbench writes it, and every tabular row with the heading's column count."""
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    depth, stack = 0, []
    for m in re.finditer(r"\\([A-Za-z]+|.)|([{}])|([#%&$^_~])", body):
        cmd, brace, special = m.groups()
        if cmd is not None:
            assert cmd in ALLOWED, f"unknown command \\{cmd}"
        elif brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            assert depth >= 0, "unbalanced }"
        elif special == "&":
            continue  # column separators; counted below
        elif special == "$":
            continue  # \pm in $...$; pairs checked below
        else:
            raise AssertionError(f"unescaped {special!r} at {body[max(0, m.start() - 30) : m.end() + 30]!r}")
    assert depth == 0, "unbalanced {"
    for m in re.finditer(r"\\(begin|end)\{([a-z]+)\}", body):
        assert m.group(2) in ENVIRONMENTS
        if m.group(1) == "begin":
            stack.append(m.group(2))
        else:
            assert stack.pop() == m.group(2)
    assert not stack
    unescaped_dollars = re.findall(r"(?<!\\)\$", body)
    assert len(unescaped_dollars) % 2 == 0 and all(s == "\\pm" for s in re.findall(r"(?<!\\)\$(.*?)(?<!\\)\$", body))
    for table in re.findall(r"\\begin\{tabular\}\{([rlc]+)\}(.*?)\\end\{tabular\}", body, re.S):
        spec, rows = table
        for row in rows.split("\\\\"):
            row = re.sub(r"\\(toprule|midrule|bottomrule)", "", row).strip()
            if row:
                assert len(re.findall(r"(?<!\\)&", row)) == len(spec) - 1, row


def test_latex_compiles_with_a_real_engine(boards, tmp_path, prerequisite):
    """pdflatex with only booktabs and graphicx, on the hostile names: it must finish without an
    error, without a missing glyph and without a bitmap (TS1/METAFONT) font."""
    import shutil
    import subprocess

    engine = shutil.which("pdflatex")
    if engine is None:
        prerequisite(
            "pdflatex is not installed (Debian: texlive-latex-base texlive-latex-recommended); "
            "the LaTeX table was checked by test_latex_escapes_every_special_character only"
        )
    (tmp_path / "leaderboard.tex").write_text(render(boards, "latex"), encoding="utf-8")
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
        "\\begin{document}\n\\input{leaderboard.tex}\n\\end{document}\n"
    )
    res = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "paper.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "paper.log").read_text(errors="replace")
    assert res.returncode == 0, log[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
    assert "Missing character" not in log and "Undefined control sequence" not in log
    assert ".pk>" not in log and "mktexpk" not in res.stdout, "a bitmap font was needed"
