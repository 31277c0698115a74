"""The README's promises: its Python example runs, and CI runs exactly its test command."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_the_python_api_example_runs_and_prints_the_llama_2_flags() -> None:
    (block,) = [b for b in _blocks("python") if "load_case(" in b]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    text = out.getvalue()
    assert text.startswith("llama-2: ")
    assert "output-training-ban" in text and "§3.7.6" in text


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in _blocks("sh") if b.strip() and b in quick_start]
    assert len(commands) == 2, "the quick start has exactly two commands"
    assert "policycheck assess cases/" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands[1] in ci
