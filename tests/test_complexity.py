"""Cyclomatic and cognitive complexity per language, checked against hand-counted values.

Every expected cognitive value is counted by the rules of G. Ann Campbell's "Cognitive
Complexity" (SonarSource, 2017) as listed in `triage.metrics.complexity`; the comments in each
sample show the increments. Cyclomatic = 1 + decision points (McCabe 1976).
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.metrics.complexity import analyse, supported_languages

CASES = [
    (
        "python",
        """
        def classify(n, flags):
            if n < 0 and flags:      # +1 if, +1 and
                return "neg"
            elif n == 0:             # +1 elif
                return "zero"
            else:                    # +1 else
                for f in flags:      # +2 (nesting 1)
                    if f:            # +3 (nesting 2)
                        return f
            return "pos"
        """,
        "classify",
        6,
        9,
    ),
    (
        "javascript",
        """
        function pick(items, key) {
          let found = null;
          for (const item of items) {                        // +1
            if (item.key === key || item.alias === key) {    // +2, +1 ||
              found = item;
              break;
            }
          }
          return found ? found.value : null;                 // +1
        }
        """,
        "pick",
        5,
        5,
    ),
    (
        "typescript",
        """
        export function clamp(x: number, lo: number, hi: number): number {
          if (x < lo) {            // +1
            return lo;
          } else if (x > hi) {     // +1
            return hi;
          }
          return x;
        }
        """,
        "clamp",
        3,
        2,
    ),
    (
        "tsx",
        """
        const Badge = ({ count }: { count: number }) => {
          if (count > 99) {                                  // +1
            return <span>99+</span>;
          }
          return <span>{count > 0 ? count : null}</span>;    // +1
        };
        """,
        "Badge",
        3,
        2,
    ),
    (
        "go",
        """
        package m

        func Sum(xs []int, skip map[int]bool) int {
            total := 0
            for _, x := range xs { // +1
                if skip[x] { // +2
                    continue
                }
                switch { // +2
                case x > 10:
                    total += 10
                default:
                    total += x
                }
            }
            return total
        }
        """,
        "Sum",
        4,
        5,
    ),
    (
        "rust",
        """
        fn parse(s: &str) -> Option<u32> {
            let mut n = 0;
            for c in s.chars() {                  // +1
                match c.to_digit(10) {            // +2
                    Some(d) => n = n * 10 + d,
                    None => return None,
                }
            }
            if n > 0 && n < 1000 { Some(n) } else { None }   // +1 if, +1 &&, +1 else
        }
        """,
        "parse",
        6,
        6,
    ),
    (
        "java",
        """
        class Primes {
          int total(int max) {
            int sum = 0;
            outer:
            for (int i = 2; i <= max; i++) {     // +1
              for (int j = 2; j < i; j++) {      // +2
                if (i % j == 0) {                // +3
                  continue outer;                // +1
                }
              }
              sum += i;
            }
            return sum;
          }
        }
        """,
        "Primes.total",
        4,
        7,
    ),
    (
        "c",
        """
        int count_words(const char *s) {
            int n = 0, in = 0;
            while (*s) {                          /* +1 */
                if (*s == ' ' || *s == '\\n') {   /* +2, +1 || */
                    in = 0;
                } else if (!in) {                 /* +1 */
                    in = 1;
                    n++;
                }
                s++;
            }
            return n;
        }
        """,
        "count_words",
        5,
        5,
    ),
    (
        "cpp",
        """
        int Parser::depth(const std::string& s) {
            int d = 0, best = 0;
            for (char c : s) {                                    // +1
                if (c == '(') { d++; best = std::max(best, d); }  // +2
                else if (c == ')') { d--; }                       // +1
            }
            try { check(d); } catch (const std::exception& e) { return -1; }   // +1
            return best;
        }
        """,
        "Parser::depth",
        5,
        5,
    ),
    (
        "ruby",
        """
        def grade(score)
          return "invalid" unless score.is_a?(Integer)   # +1
          case score                                     # +1
          when 90.. then "A"
          when 80...90 then "B"
          else "C"
          end
        end
        """,
        "grade",
        4,
        2,
    ),
    (
        "c_sharp",
        """
        class Cart {
          public decimal Total(List<Item> items, bool member) {
            decimal sum = 0;
            foreach (var item in items) {                     // +1
              if (item.Free) continue;                        // +2
              sum += item.Price;
            }
            return member && sum > 100 ? sum * 0.9m : sum;    // +1 ?:, +1 &&
          }
        }
        """,
        "Cart.Total",
        5,
        5,
    ),
    (
        "php",
        """
        <?php
        function label($n) {
            if ($n % 15 == 0) {           // +1
                return "FizzBuzz";
            } elseif ($n % 3 == 0) {      // +1
                return "Fizz";
            } elseif ($n % 5 == 0) {      // +1
                return "Buzz";
            }
            return (string) $n;
        }
        """,
        "label",
        4,
        3,
    ),
]


def only_unit(source: str, language: str):
    result = analyse(textwrap.dedent(source).encode(), language)
    assert result is not None
    assert len(result.units) == 1, result.units
    return result.units[0]


@pytest.mark.parametrize(("language", "source", "name", "cyclomatic", "cognitive"), CASES, ids=[c[0] for c in CASES])
def test_known_values_per_language(language: str, source: str, name: str, cyclomatic: int, cognitive: int) -> None:
    unit = only_unit(source, language)
    assert (unit.name, unit.cyclomatic, unit.cognitive) == (name, cyclomatic, cognitive)


def test_every_supported_language_has_a_case() -> None:
    assert {c[0] for c in CASES} == set(supported_languages())


def test_nesting_increments_as_in_the_sonar_paper() -> None:
    # The white paper's nested example: try does not nest, catch is +1, loops nest.
    source = """
    class Runner {
      void run(List<Task> tasks) {
        try {
          if (ready) {                               // +1
            for (Task t : tasks) {                   // +2 (nesting 1)
              while (t.pending()) { t.step(); }      // +3 (nesting 2)
            }
          }
        } catch (IllegalStateException | IOException e) {   // +1
          if (verbose) { log(e); }                   // +2 (nesting 1)
        }
      }
    }
    """
    unit = only_unit(source, "java")
    assert (unit.cognitive, unit.cyclomatic) == (9, 6)


def test_switch_is_one_increment_but_each_case_is_a_path() -> None:
    source = """
    class Words {
      String name(int n) {
        switch (n) {
          case 1: return "one";
          case 2: return "two";
          case 3: return "three";
          default: return "many";
        }
      }
    }
    """
    unit = only_unit(source, "java")
    assert (unit.cognitive, unit.cyclomatic) == (1, 4)


@pytest.mark.parametrize(
    ("condition", "cognitive"),
    [
        ("a and b and c", 2),  # if +1, one sequence +1
        ("a and b or c", 3),  # two sequences
        ("a and b and c or d or e and f", 4),  # three sequences
        ("a and not (b and c)", 3),  # the negation starts a new sequence
        ("(a and b) and c", 2),  # parentheses alone do not
    ],
)
def test_sequences_of_logical_operators(condition: str, cognitive: int) -> None:
    unit = only_unit(f"def f(a, b, c, d, e, f):\n    if {condition}:\n        pass\n", "python")
    assert unit.cognitive == cognitive


def test_else_if_chain_does_not_nest_but_else_body_does() -> None:
    source = """
    func f(x int) int {
        if x > 0 {            // +1
            return 1
        } else if x < 0 {     // +1
            return -1
        } else {              // +1
            if x == 0 {       // +2 (nesting 1)
                return 0
            }
        }
        return 2
    }
    """
    unit = only_unit("package m\n" + textwrap.dedent(source), "go")
    assert (unit.cognitive, unit.cyclomatic) == (5, 4)


def test_lambdas_raise_nesting_without_their_own_increment() -> None:
    source = """
    function outer(xs) {
      return xs.map((x) => {
        if (x) { return 1; }   // +2: nesting 1 inside the arrow function
        return 0;
      });
    }
    """
    unit = only_unit(source, "javascript")
    assert (unit.name, unit.cognitive) == ("outer", 2)


def test_methods_are_qualified_and_located() -> None:
    source = (
        b"class A:\n    def one(self):\n        return 1\n\n"
        b"    def two(self):\n        if self:\n            return 2\n"
    )
    result = analyse(source, "python")
    assert result is not None
    assert [(u.name, u.start_line, u.end_line, u.cognitive) for u in result.units] == [
        ("A.one", 2, 3, 0),
        ("A.two", 5, 7, 1),
    ]


def test_fragments_still_count_decision_points() -> None:
    # Added lines of a hunk, without the function header around them: tree-sitter recovers.
    fragment = b"    if x and y:\n        for i in x:\n            total += i\n"
    result = analyse(fragment, "python")
    assert result is not None
    assert result.units == ()
    assert result.toplevel_decisions == 3  # if, and, for
    assert result.toplevel_cognitive >= 3


def test_php_fragment_without_open_tag_is_parsed_as_code() -> None:
    result = analyse(b"function f($x) {\n  if ($x) { return 1; }\n  return 0;\n}\n", "php")
    assert result is not None
    assert [(u.name, u.start_line, u.cyclomatic) for u in result.units] == [("f", 1, 2)]


def test_unknown_language_is_a_clean_none() -> None:
    assert analyse(b"IDENTIFICATION DIVISION.", "cobol") is None
    assert analyse(b"", "python") is not None


def test_deep_expressions_do_not_overflow_the_stack() -> None:
    source = "def f():\n    return " + " + ".join(["1"] * 5000) + "\n"
    result = analyse(source.encode(), "python")
    assert result is not None
    assert result.units[0].cyclomatic == 1


def test_every_language_of_the_one_table_has_rules_and_a_loadable_grammar() -> None:
    from triage.classify import LANGUAGES, language_for
    from triage.metrics import complexity

    assert set(LANGUAGES) == set(complexity._RULES)
    for lang in LANGUAGES.values():
        assert complexity._parser(lang.name) is not None, lang.name
        for ext in lang.extensions:
            assert language_for(f"src/x{ext}") == lang.name


# speed2 (#13): results are cached by content; a hit must be the same answer as a fresh analysis.
def test_analyse_cache_returns_what_a_fresh_analysis_returns() -> None:
    from triage.metrics import complexity

    source = b"def f(x):\n    if x and x > 1:\n        return 1\n    return 2\n"
    first = complexity.analyse(source, "python")
    again = complexity.analyse(source, "python")
    assert again == first == complexity._analyse(source, "python")
    assert first is not None and first.units[0].cyclomatic == 3
    edited = complexity.analyse(source.replace(b"x and ", b""), "python")
    assert edited is not None and edited.units[0].cyclomatic == 2  # new content, new answer
    assert complexity.analyse(source, "javascript") != first  # the language is part of the key


# static3 (#13): the hunk-local mode dedents each side of a hunk without textwrap's regexes.
@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet=" \t\r\x0bab\n", max_size=8), max_size=8))
def test_hunk_sides_are_dedented_exactly_as_textwrap_does(lines: list[str]) -> None:
    from triage.metrics.touched import _dedent

    assert _dedent(lines) == textwrap.dedent("\n".join(lines) + "\n")


def test_dedent_of_typical_hunk_sides() -> None:
    from triage.metrics.touched import _dedent

    cases = [
        ["    if x:", "        y()", "", "    z()"],
        ["\tif x:", "\t\ty()", "  \t", "\tz()"],
        ["  a", "   ", " b"],
        ["a", "  b"],
        ["   ", "\t"],
        [],
    ]
    for lines in cases:
        assert _dedent(lines) == textwrap.dedent("\n".join(lines) + "\n"), lines
    assert _dedent(["    if x:", "        y()"]) == "if x:\n    y()\n"
