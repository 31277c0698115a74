"""Writers for ``--format json`` (the Assessment document) and ``--format jsonl`` (JSON Lines).

``json``: the bytes of ``Assessment.to_json()`` (or of ``--explain``'s ``render_json``). Its
``cases`` list sorts first, so each case is written as soon as it is assessed and only the
tail (``errors``, ``review``, ``rule_pack``, ``summary``, ``tool``, ``version``) waits for the end.

``jsonl``: one compact JSON object per line, sorted keys, each with a ``type``:

- ``{"type": "error", "file": ..., "problems": [...]}``: a file not assessed (as soon as it is found);
- ``{"type": "case", ...}``: one assessed case, the fields of an ``Assessment.cases`` item;
- last, ``{"type": "summary", "tool", "version", "rule_pack", "summary", "cases", "errors",
  "review"?}``: ``cases`` and ``errors`` are counts; ``review`` as in the JSON, when waivers or a
  baseline were used.

Read it with ``jq -c 'select(.type == "case")'`` or line by line; memory stays flat for both
the writer and a reader.
"""

from __future__ import annotations

import json
from typing import IO, Any

from policycheck.model.assessment import Assessment, CaseAssessment, FileError
from policycheck.render.stream import Head, JsonList, Tail, dump, render_with
from policycheck.render.terminal import encodable

_PLACEHOLDER = "\0cases\0"


def _case_data(case: CaseAssessment, explain: bool) -> dict[str, Any]:
    data: dict[str, Any] = case.model_dump(mode="json")
    if explain:
        from policycheck.render.explain import case_dict

        data["explain"] = case_dict(case)
    return data


class JsonWriter:
    def __init__(self, explain: bool = False) -> None:
        self.explain = explain

    def begin(self, out: IO[str], head: Head) -> None:
        self.out, self.head = out, head
        # "cases" is the first key of the document (sorted keys): write it now.
        out.write('{\n  "cases": ')
        self.cases = JsonList(2, out)
        self.cases.open()

    def problem(self, error: FileError) -> None:
        pass  # listed under "errors" at the end

    def case(self, case: CaseAssessment) -> None:
        case = encodable(case)   # a file name that is not UTF-8: its bytes shown as \xNN
        self.cases.add_text(dump(_case_data(case, self.explain)))

    def end(self, tail: Tail) -> None:
        tail = encodable(tail)
        self.cases.close()
        shell = Assessment(tool=self.head.tool, version=self.head.version, rule_pack=self.head.rule_pack,
                           summary=tail.summary, cases=[], review=tail.review, errors=list(tail.errors))
        data = shell.model_dump(mode="json")
        data["cases"] = _PLACEHOLDER
        text = dump(data) + "\n"
        marker = json.dumps(_PLACEHOLDER)
        self.out.write(text[text.index(marker) + len(marker):])


def render(result: Assessment, explain: bool = False) -> str:
    return render_with(JsonWriter(explain), result)


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


class JsonlWriter:
    def __init__(self, explain: bool = False) -> None:
        self.explain = explain

    def begin(self, out: IO[str], head: Head) -> None:
        self.out, self.head = out, head
        self.cases = self.errors = 0

    def problem(self, error: FileError) -> None:
        error = encodable(error)
        self.errors += 1
        self.out.write(_line({"type": "error", **error.model_dump(mode="json")}))

    def case(self, case: CaseAssessment) -> None:
        case = encodable(case)   # a file name that is not UTF-8: its bytes shown as \xNN
        self.cases += 1
        self.out.write(_line({"type": "case", **_case_data(case, self.explain)}))
        self.out.flush()

    def end(self, tail: Tail) -> None:
        tail = encodable(tail)
        body: dict[str, Any] = {"type": "summary", "tool": self.head.tool, "version": self.head.version,
                                "rule_pack": self.head.rule_pack.model_dump(mode="json"), "summary": tail.summary,
                                "cases": self.cases, "errors": self.errors}
        if tail.review is not None:
            body["review"] = tail.review.model_dump(mode="json")
        self.out.write(_line(body))


def render_jsonl(result: Assessment, explain: bool = False) -> str:
    return render_with(JsonlWriter(explain), result)


__all__ = ["JsonWriter", "JsonlWriter", "render", "render_jsonl"]
