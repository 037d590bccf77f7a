"""model/text.py: the one way text is put on a line, lists are cut and milliseconds are written."""

from diagnose.model.text import first_of, ms, single_line


def test_single_line_joins_whitespace_and_cuts_with_or_without_a_mark():
    assert single_line("a\n  b\tc") == "a b c"
    assert single_line("x" * 10, 5) == "xxxxx"
    assert single_line("x" * 10, 5, mark="...") == "xx..."
    assert single_line("short", 5, mark="...") == "short"


def test_first_of_names_the_first_and_counts_the_rest():
    assert first_of(["a", "b"]) == "a, b"
    assert first_of(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert first_of(["a", "b", "c", "d"], 2, sep=" ", more=" ...") == "a b ..."
    assert first_of(["a", "b", "c", "d"], 3, more=" +{n} more") == "a, b, c +1 more"


def test_ms_as_people_read_it():
    assert ms(None) == "?"
    assert ms(None, "-") == "-"
    assert ms(1.5) == "1.5 ms"
    assert ms(12000.0) == "12000 ms"
    assert ms(12000.0, grouped_from=100) == "12,000 ms"
