"""The safe YAML/JSON reader (src/policycheck/source_file.py): refusals, implicit types, places."""

from __future__ import annotations

from pathlib import Path

import pytest

from policycheck.errors import InputError
from policycheck.io.reader import MAX_DEPTH, format_path, parse_document, read_document, walk_paths


def problem_of(text: str) -> tuple[int | None, int | None, str | None, str]:
    """(line, column, path, message) of the single problem parsing ``text`` raises."""
    with pytest.raises(InputError) as info:
        parse_document(text, "f.yaml")
    assert len(info.value.problems) == 1, info.value.lines()
    p = info.value.problems[0]
    assert p.location.file == "f.yaml"
    return p.location.line, p.location.column, p.location.path, p.message


# --- YAML's implicit types are kept out ----------------------------------------------------------

@pytest.mark.parametrize("text", ["yes", "no", "on", "off", "Yes", "NO", "y", "n"])
def test_yaml_11_booleans_stay_strings(text: str) -> None:
    assert parse_document(f"a: {text}").data == {"a": text}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("True", True), ("FALSE", False)])
def test_only_true_and_false_are_booleans(text: str, value: bool) -> None:
    assert parse_document(f"a: {text}").data["a"] is value


@pytest.mark.parametrize("text", ["2023-02-24", "2023-02", "2023-02-24T10:00:00Z", "2023-02-30"])
def test_dates_stay_strings(text: str) -> None:
    assert parse_document(f"a: {text}").data == {"a": text}


@pytest.mark.parametrize(("text", "value"), [
    ("1e3", 1000.0), ("1.5e-3", 0.0015), ("-2", -2), ("+7", 7), ("700_000_000", 700000000), (".5", 0.5),
    ("0", 0), ("1.", 1.0),
])
def test_numbers(text: str, value: float) -> None:
    got = parse_document(f"a: {text}").data["a"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", ["e3", "E10", "-e3", "1e", ".", "1.2.3", "0x1F", "1:30", "v1.0"])
def test_number_like_text_stays_text(text: str) -> None:
    # "e3" used to crash the reader with a bare ValueError from float().
    assert parse_document(f"a: {text}").data == {"a": text}


@pytest.mark.parametrize("text", ['"true"', "'10'", '"2023-01-01"', '"null"'])
def test_quoted_scalars_are_strings(text: str) -> None:
    assert parse_document(f"a: {text}").data == {"a": text[1:-1]}


@pytest.mark.parametrize("text", ["~", "null", ""])
def test_nulls(text: str) -> None:
    assert parse_document(f"a: {text}").data == {"a": None}


@pytest.mark.parametrize("text", [".inf", "-.inf", ".NaN", "1e400"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    line, col, path, msg = problem_of(f"x: 1\na: {text}\n")
    assert (line, col, path) == (2, 4, "a")
    assert "finite" in msg


# --- hostile or broken input ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "where", "fragment"), [
    ("a: 1\nb: [1, 2\nc: 3\n", (3, 2), "did not find expected ',' or ']'"),
    ('a: "unclosed\n', (2, 1), "unexpected end of stream"),
    ("a: 1\n\tb: 2\n", (2, 1), "tab character"),
])
def test_syntax_error_has_line_and_column(text: str, where: tuple[int, int], fragment: str) -> None:
    line, col, path, msg = problem_of(text)
    assert msg.startswith("invalid YAML:") and fragment in msg
    assert (line, col) == where
    assert path is None


def test_bad_indentation_is_located() -> None:
    line, col, _, msg = problem_of("a:\n  b: 1\n c: 2\n")
    assert msg.startswith("invalid YAML:")
    assert (line, col) == (3, 2)


def test_duplicate_key_points_at_the_second_key() -> None:
    assert problem_of("a: 1\nb:\n  c: 1\n  c: 2\n") == (4, 3, "b.c", "duplicate key 'c'")


def test_alias_is_refused() -> None:
    # Reported where the alias is used (line 3), not where the anchor is (line 1).
    line, col, path, msg = problem_of("a: &x [1, 2]\nc: 1\nb: *x\n")
    assert (line, col, path) == (3, 1, "b")
    assert msg == "YAML anchors and aliases are not allowed"


def test_alias_in_a_list_is_refused() -> None:
    line, col, path, msg = problem_of("a: &x 1\nb: [2, *x]\n")
    assert path == "b[1]" and msg == "YAML anchors and aliases are not allowed"


def test_scalar_alias_is_refused() -> None:
    assert problem_of("a: &x 1\nb: *x\n")[3] == "YAML anchors and aliases are not allowed"


def test_merge_key_is_refused() -> None:
    text = "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n"
    with pytest.raises(InputError) as info:
        parse_document(text, "f.yaml")
    assert any("not allowed" in p.message for p in info.value.problems)


@pytest.mark.parametrize(("value", "tag"), [
    ("!!python/object:os.system x", "python/object:os.system"),
    ("!!python/name:os.system ''", "python/name:os.system"),
    ("!custom 3", "!custom"),
    ("!!binary aGVsbG8=", "binary"),
    ("!!set {a, b}", "set"),
    ("!!omap [a: 1]", "omap"),
])
def test_unsupported_tags_are_refused(value: str, tag: str) -> None:
    line, col, path, msg = problem_of(f"ok: 1\nbad: {value}\n")
    assert (line, col, path) == (2, 6, "bad")
    assert msg.startswith("unsupported YAML tag") and tag in msg


def test_complex_keys_are_refused() -> None:
    assert problem_of("? [a, b]\n: 1\n")[3] == "mapping keys must be plain strings"


def test_nesting_limit() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert "nesting deeper" in problem_of(text)[3]


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_documents(text: str) -> None:
    assert problem_of(text) == (1, 1, None, "file is empty")


def test_multiple_documents_are_refused() -> None:
    _, _, _, msg = problem_of("a: 1\n---\nb: 2\n")
    assert msg.startswith("invalid YAML")


def test_non_utf8_file(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes("title: Soci\u00e9t\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_document(f)
    (p,) = info.value.problems
    assert (p.location.file, p.location.line, p.location.column) == (str(f), 1, 12)
    assert "not valid UTF-8" in p.message and "byte 11" in p.message


def test_non_utf8_after_a_bom_is_located_by_line(tmp_path: Path) -> None:
    f = tmp_path / "bom-latin1.yaml"
    f.write_bytes(b"\xef\xbb\xbfa: 1\nb: caf\xe9\n")
    with pytest.raises(InputError) as info:
        read_document(f)
    (p,) = info.value.problems
    assert (p.location.line, p.location.column) == (2, 7)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "bom.yaml"
    f.write_bytes(b"\xef\xbb\xbfa: caf\xc3\xa9\n")
    assert read_document(f).data == {"a": "caf\u00e9"}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_document(tmp_path / "nope.yaml")
    assert "cannot read file" in info.value.problems[0].message


def test_oversized_file(tmp_path: Path) -> None:
    """The size limit in effect (``limits.file_bytes``, configurable) is the one applied."""
    from policycheck import limits

    f = tmp_path / "big.yaml"
    f.write_text("a: " + "x" * 200 + "\n")
    with limits.using(limits.DEFAULT.replace(file_bytes=100)):
        with pytest.raises(InputError) as info:
            read_document(f)
        assert read_document(f, max_bytes=300).data == {"a": "x" * 200}
    message = info.value.problems[0].message
    assert "larger than 100 bytes" in message and "limits.file_bytes" in message
    assert read_document(f).data == {"a": "x" * 200}  # the default limit is back


def test_display_name_is_used_in_errors(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("a: [\n")
    with pytest.raises(InputError) as info:
        read_document(f, display="shown.yaml")
    assert info.value.problems[0].location.file == "shown.yaml"


# --- places ---------------------------------------------------------------------------------------

def test_places_of_keys_and_list_items() -> None:
    text = "a: 1\nlist:\n  - x: 1\n    y: [p, q]\n  - z\n"
    doc = parse_document(text, "f.yaml")
    assert doc.places[("a",)] == (1, 1)
    assert doc.places[("list",)] == (2, 1)
    assert doc.places[("list", 0)] == (3, 5)
    assert doc.places[("list", 0, "y")] == (4, 5)
    assert doc.places[("list", 0, "y", 1)] == (4, 12)
    assert doc.places[("list", 1)] == (5, 5)


def test_location_falls_back_to_the_nearest_ancestor_but_keeps_the_path() -> None:
    doc = parse_document("a:\n  b: 1\n", "f.yaml")
    loc = doc.location(("a", "missing", 3))
    assert (loc.file, loc.line, loc.column, loc.path) == ("f.yaml", 1, 1, "a.missing[3]")
    assert doc.line_of(("a", "b")) == 2


def test_json_text_is_read_with_places() -> None:
    doc = parse_document('{\n  "a": [1, 2.5, true, null],\n  "b": {"c": "yes"}\n}\n', "f.json")
    assert doc.data == {"a": [1, 2.5, True, None], "b": {"c": "yes"}}
    assert doc.places[("b", "c")] == (3, 9)


def test_format_path() -> None:
    assert format_path(("licences", 0, "versions", 1, "terms")) == "licences[0].versions[1].terms"
    assert format_path(()) == ""
    assert format_path((2,)) == "[2]"


def test_walk_paths_visits_everything() -> None:
    doc = parse_document("a: [1, {b: 2}]\n")
    assert dict(walk_paths(doc.data)) == {
        (): {"a": [1, {"b": 2}]}, ("a",): [1, {"b": 2}], ("a", 0): 1, ("a", 1): {"b": 2}, ("a", 1, "b"): 2,
    }
