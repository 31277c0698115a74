"""``--format github``: GitHub Actions workflow commands, one annotation per line.

    ::error file=cases/x.yaml,line=12,title=policycheck output-training-ban (high)::message

- one annotation per flag that counts (not waived, not in the baseline) on a term in force, at
  its operative term's file and line (``Flag.location()``): high -> ``error``, medium ->
  ``warning``, low and info -> ``notice``;
- one ``error`` per problem of a file that could not be assessed, at its line and column;
- nothing else (history, waived and baseline flags are in the other formats).

``quiet`` (``assess -q``) keeps only the flags that fail the run (``fail_on``: counted flags
at or above it), as the quiet table does: the annotations are then what blocks the merge, and
the other flags stay in the SARIF and the Markdown summary of the same run.

Escaping follows the runner's rules (actions/toolkit ``command.ts``): in the message ``%``,
``\\r`` and ``\\n`` become ``%25``, ``%0D``, ``%0A``; in property values also ``:`` and ``,``
(``%3A``, ``%2C``). Every other character is left as it is, so a case file cannot start a
workflow command of its own: a newline never reaches the log unescaped.

The runner shows at most 10 error, 10 warning and 10 notice annotations per step (and 50 per
job) on the summary page; the rest still appear in the log.
"""

from __future__ import annotations

from typing import IO

from policycheck.model.assessment import Assessment, CaseAssessment, FileError, Flag
from policycheck.model.rule import SEVERITY_ORDER
from policycheck.render.stream import Head, Tail, render_with
from policycheck.render.terminal import escape

LEVEL = {"high": "error", "medium": "warning", "low": "notice", "info": "notice"}


def escape_data(value: str) -> str:
    """A workflow command's data: ``%``, CR and LF percent-encoded as the runner expects, then
    every other control made visible (the log is a terminal)."""
    return escape(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **props: str | int | None) -> str:
    """One workflow command line (without the newline)."""
    given = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None and v != "")
    return f"::{level}{' ' + given if given else ''}::{escape_data(message)}"


def flag_annotation(case_id: str, flag: Flag) -> str:
    file, line = flag.location()
    message = (f"{flag.message} [{', '.join(flag.conditions)}; {flag.citation.source} {flag.citation.section}] "
               f"(case {case_id}; fingerprint {flag.fingerprint})")
    return command(LEVEL[flag.severity], message, file=file, line=line,
                   title=f"policycheck {flag.rule} ({flag.severity})")


def error_annotations(error: FileError) -> list[str]:
    out = []
    for p in error.problems:
        out.append(command("error", (f"{p.path}: " if p.path else "") + p.message, file=error.file, line=p.line,
                           col=p.column if p.line else None, title="policycheck: file not assessed"))
    if not error.problems:
        out.append(command("error", "not assessed", file=error.file, title="policycheck: file not assessed"))
    return out


class GithubWriter:
    def __init__(self, *, quiet: bool = False, fail_on: str | None = None) -> None:
        self.quiet, self.fail_on = quiet, fail_on

    def _shown(self, flag: Flag) -> bool:
        if not flag.counts:
            return False
        if not self.quiet:
            return True
        return self.fail_on is not None and SEVERITY_ORDER[flag.severity] >= SEVERITY_ORDER[self.fail_on]

    def begin(self, out: IO[str], head: Head) -> None:
        self.out = out

    def problem(self, error: FileError) -> None:
        for line in error_annotations(error):
            self.out.write(line + "\n")

    def case(self, case: CaseAssessment) -> None:
        for flag in case.flags:
            if self._shown(flag):
                self.out.write(flag_annotation(case.case, flag) + "\n")
        self.out.flush()

    def end(self, tail: Tail) -> None:
        pass


def render(result: Assessment) -> str:
    return render_with(GithubWriter(), result)
