"""Cyclomatic and cognitive complexity of functions, from tree-sitter syntax trees.

Input: source bytes and a tree-sitter language name (the names `triage.classify.language_for`
returns). Output: a `FileComplexity` with one `UnitComplexity` per outermost function or
method, plus what lies outside any function.

Why both measures: cyclomatic complexity (McCabe 1976: 1 + number of decision points) counts
paths to test; cognitive complexity (G. Ann Campbell, "Cognitive Complexity", SonarSource
white paper, 2017) measures how hard code is to *read*, which is what a reviewer pays for.
Cognitive complexity as implemented here, per the white paper:

* +1 (structural, plus the current nesting level) for `if`, ternary, `switch`/`match`, loops,
  `catch`/`except`/`rescue`; each of them also raises the nesting level of its body;
* +1 (hybrid, no nesting increment) for `else if`/`elif`/`elsif` and `else`;
* +1 (fundamental) for each sequence of like binary logical operators (`a && b && c` is +1,
  `a && b || c` is +2; a negation or a call starts a new sequence, parentheses do not);
* +1 for `goto` and for `break`/`continue` to a label;
* nested functions and lambdas raise the nesting level without an increment of their own.
The optional recursion increment is not counted. `switch` adds +1 as a whole for cognitive
complexity, while each non-default `case` adds +1 to cyclomatic complexity.

Performance: the tree is walked once with a `TreeCursor` and an explicit stack (no Python
recursion, so a 5,000-term string concatenation cannot overflow the stack), which is several
times faster than materialising `Node.children` lists. Parsers are cached per language.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Node, Parser, TreeCursor

from triage.classify import LANGUAGES

__all__ = [
    "FileComplexity",
    "UnitComplexity",
    "analyse",
    "language_rules",
    "supported_languages",
]


@dataclass(frozen=True, slots=True)
class Rules:
    """Which node types of one grammar play which role. Names come from each grammar's
    node-types.json (checked against the installed wheels)."""

    units: frozenset[str]  # functions/methods we report on
    lambdas: frozenset[str]  # anonymous functions: nesting only, reported when bound to a name
    ifs: frozenset[str]
    elifs: frozenset[str] = frozenset()  # else-if clauses that are their own node
    elses: frozenset[str] = frozenset()  # else clauses that wrap the alternative
    loops: frozenset[str] = frozenset()
    switches: frozenset[str] = frozenset()
    cases: frozenset[str] = frozenset()
    catches: frozenset[str] = frozenset()
    ternaries: frozenset[str] = frozenset()
    gotos: frozenset[str] = frozenset()
    jumps: frozenset[str] = frozenset()  # break/continue: +1 cognitive only with a label
    labels: frozenset[str] = frozenset()  # node types of a jump's label
    logical: frozenset[str] = frozenset({"binary_expression"})
    decisions: frozenset[str] = frozenset()  # cyclomatic-only decision points (comprehension if)
    containers: frozenset[str] = frozenset()  # classes etc. that qualify a method's name
    php_tag: bool = False

    @property
    def interesting(self) -> frozenset[str]:
        """Every node type that counts for something in a plain context (the walk's fast path)."""
        return _interesting(self)


@cache
def _interesting(rules: Rules) -> frozenset[str]:
    return (
        rules.units
        | rules.lambdas
        | rules.ifs
        | rules.loops
        | rules.switches
        | rules.cases
        | rules.catches
        | rules.ternaries
        | rules.gotos
        | rules.jumps
        | rules.logical
        | rules.decisions
        | rules.containers
    )


def _fs(*names: str) -> frozenset[str]:
    return frozenset(names)


_JS_UNITS = _fs("function_declaration", "generator_function_declaration", "method_definition")
_JS_LAMBDAS = _fs("function_expression", "function", "arrow_function", "generator_function")
_JS = Rules(
    units=_JS_UNITS,
    lambdas=_JS_LAMBDAS,
    ifs=_fs("if_statement"),
    elses=_fs("else_clause"),
    loops=_fs("for_statement", "for_in_statement", "while_statement", "do_statement"),
    switches=_fs("switch_statement"),
    cases=_fs("switch_case"),
    catches=_fs("catch_clause"),
    ternaries=_fs("ternary_expression"),
    jumps=_fs("break_statement", "continue_statement"),
    labels=_fs("statement_identifier"),
    containers=_fs("class_declaration", "class", "abstract_class_declaration"),
)
_C = Rules(
    units=_fs("function_definition"),
    lambdas=frozenset(),
    ifs=_fs("if_statement"),
    elses=_fs("else_clause"),
    loops=_fs("for_statement", "while_statement", "do_statement"),
    switches=_fs("switch_statement"),
    cases=_fs("case_statement"),
    ternaries=_fs("conditional_expression"),
    gotos=_fs("goto_statement"),
)

_RULES: dict[str, Rules] = {
    "python": Rules(
        units=_fs("function_definition"),
        lambdas=_fs("lambda"),
        ifs=_fs("if_statement"),
        elifs=_fs("elif_clause"),
        elses=_fs("else_clause"),
        loops=_fs("for_statement", "while_statement"),
        switches=_fs("match_statement"),
        cases=_fs("case_clause"),
        catches=_fs("except_clause", "except_group_clause"),
        ternaries=_fs("conditional_expression"),
        logical=_fs("boolean_operator"),
        decisions=_fs("if_clause", "for_in_clause"),
        containers=_fs("class_definition"),
    ),
    "javascript": _JS,
    "typescript": _JS,
    "tsx": _JS,
    "go": Rules(
        units=_fs("function_declaration", "method_declaration"),
        lambdas=_fs("func_literal"),
        ifs=_fs("if_statement"),
        loops=_fs("for_statement"),
        switches=_fs("expression_switch_statement", "type_switch_statement", "select_statement"),
        cases=_fs("expression_case", "type_case", "communication_case"),
        gotos=_fs("goto_statement"),
        jumps=_fs("break_statement", "continue_statement"),
        labels=_fs("label_name"),
    ),
    "rust": Rules(
        units=_fs("function_item"),
        lambdas=_fs("closure_expression"),
        ifs=_fs("if_expression"),
        elses=_fs("else_clause"),
        loops=_fs("loop_expression", "while_expression", "for_expression"),
        switches=_fs("match_expression"),
        cases=_fs("match_arm"),
        jumps=_fs("break_expression", "continue_expression"),
        labels=_fs("label"),
        containers=_fs("impl_item", "trait_item"),
    ),
    "java": Rules(
        units=_fs("method_declaration", "constructor_declaration", "compact_constructor_declaration"),
        lambdas=_fs("lambda_expression"),
        ifs=_fs("if_statement"),
        loops=_fs("for_statement", "enhanced_for_statement", "while_statement", "do_statement"),
        switches=_fs("switch_expression", "switch_statement"),
        cases=_fs("switch_label"),
        catches=_fs("catch_clause"),
        ternaries=_fs("ternary_expression"),
        jumps=_fs("break_statement", "continue_statement"),
        labels=_fs("identifier"),
        containers=_fs("class_declaration", "interface_declaration", "enum_declaration", "record_declaration"),
    ),
    "c": _C,
    "cpp": Rules(
        units=_C.units,
        lambdas=_fs("lambda_expression"),
        ifs=_C.ifs,
        elses=_C.elses,
        loops=_C.loops | _fs("for_range_loop"),
        switches=_C.switches,
        cases=_C.cases,
        catches=_fs("catch_clause"),
        ternaries=_C.ternaries,
        gotos=_C.gotos,
        containers=_fs("class_specifier", "struct_specifier"),
    ),
    "ruby": Rules(
        units=_fs("method", "singleton_method"),
        lambdas=_fs("lambda", "block", "do_block"),
        ifs=_fs("if", "unless", "if_modifier", "unless_modifier"),
        elifs=_fs("elsif"),
        elses=_fs("else"),
        loops=_fs("while", "until", "for", "while_modifier", "until_modifier"),
        switches=_fs("case", "case_match"),
        cases=_fs("when", "in_clause"),
        catches=_fs("rescue", "rescue_modifier"),
        ternaries=_fs("conditional"),
        logical=_fs("binary"),
        containers=_fs("class", "module"),
    ),
    "c_sharp": Rules(
        units=_fs(
            "method_declaration",
            "constructor_declaration",
            "destructor_declaration",
            "operator_declaration",
            "conversion_operator_declaration",
            "accessor_declaration",
        ),
        lambdas=_fs("lambda_expression", "anonymous_method_expression", "local_function_statement"),
        ifs=_fs("if_statement"),
        loops=_fs("for_statement", "foreach_statement", "while_statement", "do_statement"),
        switches=_fs("switch_statement", "switch_expression"),
        cases=_fs("switch_section", "switch_expression_arm"),
        catches=_fs("catch_clause"),
        ternaries=_fs("conditional_expression"),
        gotos=_fs("goto_statement"),
        containers=_fs("class_declaration", "struct_declaration", "interface_declaration", "record_declaration"),
    ),
    "php": Rules(
        units=_fs("function_definition", "method_declaration"),
        lambdas=_fs("anonymous_function", "anonymous_function_creation_expression", "arrow_function"),
        ifs=_fs("if_statement"),
        elifs=_fs("else_if_clause"),
        elses=_fs("else_clause"),
        loops=_fs("for_statement", "foreach_statement", "while_statement", "do_statement"),
        switches=_fs("switch_statement", "match_expression"),
        cases=_fs("case_statement", "match_conditional_expression"),
        catches=_fs("catch_clause"),
        ternaries=_fs("conditional_expression"),
        gotos=_fs("goto_statement"),
        containers=_fs("class_declaration", "trait_declaration", "interface_declaration"),
        php_tag=True,
    ),
}

_LOGICAL_OPS = frozenset({"&&", "||", "and", "or", "??"})
_PARENS = frozenset({"parenthesized_expression", "parenthesized_statements"})
_BINDINGS = frozenset(
    {
        "variable_declarator",
        "pair",
        "assignment_expression",
        "assignment",
        "public_field_definition",
        "field_definition",
        "let_declaration",
        "init_declarator",
    }
)
_BINDING_FIELDS = ("name", "key", "left", "pattern", "declarator", "property")


def supported_languages() -> tuple[str, ...]:
    return tuple(sorted(_RULES))


def language_rules(language: str) -> Rules | None:
    return _RULES.get(language)


@cache
def _interesting_ids(language: str) -> frozenset[int]:
    """Kind ids of the grammar's interesting node types; a name can have several ids (aliases)."""
    rules, parser = _RULES.get(language), _parser(language)
    if rules is None or parser is None or parser.language is None:
        return frozenset()
    grammar = parser.language
    names = rules.interesting
    return frozenset(i for i in range(grammar.node_kind_count) if grammar.node_kind_for_id(i) in names)


@cache
def _parser(language: str) -> Parser | None:
    """One Parser per language, built on first use: loading a grammar costs milliseconds and
    a Parser is reusable (it keeps no state between `parse` calls)."""
    spec = LANGUAGES.get(language)
    if spec is None:
        return None
    module = importlib.import_module(spec.grammar_module)
    return Parser(Language(getattr(module, spec.grammar_function)()))


@dataclass(frozen=True, slots=True)
class UnitComplexity:
    """One function or method: 1-based first/last line, cyclomatic and cognitive complexity."""

    name: str
    start_line: int
    end_line: int
    cyclomatic: int
    cognitive: int


@dataclass(frozen=True, slots=True)
class FileComplexity:
    """The functions of one source text, and the decision points outside any function."""

    units: tuple[UnitComplexity, ...]
    toplevel_decisions: int
    toplevel_cognitive: int


class _Acc:
    """Mutable counters for one unit during the single walk (never escapes this module)."""

    __slots__ = ("cognitive", "decisions", "end", "name", "start")

    def __init__(self, name: str, start: int, end: int) -> None:
        self.name = name
        self.start = start
        self.end = end
        self.decisions = 0
        self.cognitive = 0


# Frame kinds: how a node's children are to be read.
_PLAIN, _IF, _ELSEIF_WRAP, _LOGIC = 0, 1, 2, 3
# A frame: (kind, nesting, accumulator, qualifier)
_Frame = tuple[int, int, _Acc, str]


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace").split("\n", 1)[0].strip()


def _first_named(node: Node) -> Node | None:
    for child in node.named_children:
        if child.type != "comment":
            return child
    return None


def _is_default(node: Node) -> bool:
    for child in node.children:
        if child.type in ("default", "discard"):
            return True
        if child.type in ("case_pattern", "match_pattern") and child.text is not None and child.text.strip() == b"_":
            return True
    return False


def _logical_op(node: Node, rules: Rules) -> str | None:
    if node.type not in rules.logical:
        return None
    op = node.child_by_field_name("operator")
    if op is not None and op.type in _LOGICAL_OPS:
        return op.type
    return None


def _unwrap(node: Node) -> Node:
    while node.type in _PARENS and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _operator_runs(node: Node, rules: Rules) -> tuple[int, int]:
    """(operators, runs) of a maximal chain of logical operators rooted at `node`.

    In-order traversal through logical children (parentheses are transparent), so
    `a && b || c && d` yields the operator sequence &&, ||, && and 3 runs (Sonar: +3).
    """
    ops: list[str] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, emit = stack.pop()
        if emit:
            op = _logical_op(current, rules)
            if op:
                ops.append(op)
            continue
        op = _logical_op(current, rules)
        if op is None:
            continue
        left = current.child_by_field_name("left")
        right = current.child_by_field_name("right")
        if right is not None:
            stack.append((_unwrap(right), False))
        stack.append((current, True))
        if left is not None:
            stack.append((_unwrap(left), False))
    runs = sum(1 for i, op in enumerate(ops) if i == 0 or op != ops[i - 1])
    return len(ops), runs


def _declarator_name(node: Node) -> str:
    """C/C++: the name inside `int *f(int)` is at the bottom of a declarator chain."""
    current: Node | None = node.child_by_field_name("declarator")
    while current is not None:
        if current.type == "function_declarator":
            return _text(current.child_by_field_name("declarator"))
        current = current.child_by_field_name("declarator")
    return ""


def _unit_name(node: Node) -> str:
    if node.type == "accessor_declaration":  # C# `get`/`set`: name it after its property
        keyword = next((c.type for c in node.children if not c.is_named), "accessor")
        prop = node.parent.parent if node.parent is not None else None
        owner = _text(prop.child_by_field_name("name")) if prop is not None else ""
        return f"{owner}.{keyword}" if owner else keyword
    name = node.child_by_field_name("name")
    if name is not None:
        prefix = ""
        if node.type == "singleton_method":
            prefix = _text(node.child_by_field_name("object")) + "."
        elif node.type == "method_declaration" and node.child_by_field_name("receiver") is not None:
            receiver = _text(node.child_by_field_name("receiver")).strip("()").split()
            if receiver:
                prefix = receiver[-1].lstrip("*") + "."
        return prefix + _text(name)
    if node.type == "function_definition":
        found = _declarator_name(node)
        if found:
            return found
    return "<anonymous>"


def _binding_name(node: Node) -> str | None:
    """The name an anonymous function is bound to (`const f = () => ...`), if any."""
    parent = node.parent
    if parent is None or parent.type not in _BINDINGS:
        return None
    for field in _BINDING_FIELDS:
        target = parent.child_by_field_name(field)
        if target is not None and target.id != node.id:
            return _text(target)[:80] or None
    return None


def _container_name(node: Node) -> str:
    name = node.child_by_field_name("name") or node.child_by_field_name("type")
    return _text(name)


class _Walker:
    """One pass over a syntax tree, filling one accumulator per outermost function."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.units: list[_Acc] = []
        self.top = _Acc("<top level>", 0, 0)

    def _normal(self, node: Node, kind_type: str, nesting: int, acc: _Acc, qual: str) -> _Frame | None:
        """What a node counts for when nothing special about its parent applies."""
        rules = self.rules
        if kind_type in rules.ifs:
            acc.decisions += 1
            acc.cognitive += 1 + nesting
            return (_IF, nesting, acc, qual)
        if kind_type in rules.loops or kind_type in rules.catches or kind_type in rules.ternaries:
            acc.decisions += 1
            acc.cognitive += 1 + nesting
            return (_PLAIN, nesting + 1, acc, qual)
        if kind_type in rules.switches:
            acc.cognitive += 1 + nesting
            return (_PLAIN, nesting + 1, acc, qual)
        if kind_type in rules.cases:
            if not _is_default(node):
                acc.decisions += 1
            return (_PLAIN, nesting, acc, qual)
        if kind_type in rules.logical:
            op = _logical_op(node, rules)
            if op is not None:
                ops, runs = _operator_runs(node, rules)
                acc.decisions += ops
                acc.cognitive += runs
                return (_LOGIC, nesting, acc, qual)
            return (_PLAIN, nesting, acc, qual)
        if kind_type in rules.units or kind_type in rules.lambdas:
            if acc is self.top:
                name = _unit_name(node) if kind_type in rules.units else _binding_name(node)
                if name is not None:
                    unit = _Acc(f"{qual}{name}", node.start_point.row + 1, node.end_point.row + 1)
                    self.units.append(unit)
                    return (_PLAIN, 0, unit, qual)
            return (_PLAIN, nesting + 1, acc, qual)
        if kind_type in rules.gotos:
            acc.cognitive += 1
        elif kind_type in rules.jumps:
            if any(c.type in rules.labels for c in node.named_children):
                acc.cognitive += 1
        elif kind_type in rules.decisions:
            acc.decisions += 1
        elif kind_type in rules.containers and acc is self.top:
            name = _container_name(node)
            return (_PLAIN, nesting, acc, f"{qual}{name}." if name else qual)
        return (_PLAIN, nesting, acc, qual)

    def visit(self, node: Node, field: str | None, parent: _Frame) -> _Frame | None:
        """Count `node` and return the frame its children are read in (None: skip them)."""
        if not node.is_named:
            return None
        node_type = node.type
        if node_type == "comment":
            return None
        kind, nesting, acc, qual = parent
        rules = self.rules
        if kind == _IF:
            if field == "condition":
                return self._normal(node, node_type, nesting, acc, qual)
            if node_type in rules.elifs or (field == "alternative" and node_type in rules.ifs):
                acc.decisions += 1
                acc.cognitive += 1
                return (_IF, nesting, acc, qual)
            if node_type in rules.elses:
                inner = _first_named(node)
                if inner is not None and inner.type in rules.ifs:
                    return (_ELSEIF_WRAP, nesting, acc, qual)
                acc.cognitive += 1
                return (_PLAIN, nesting + 1, acc, qual)
            if field == "alternative":
                acc.cognitive += 1  # a bare `else` whose block is the alternative (Go, Java, C#)
            return self._normal(node, node_type, nesting + 1, acc, qual)
        if kind == _ELSEIF_WRAP:
            if node_type in rules.ifs:
                acc.decisions += 1
                acc.cognitive += 1
                return (_IF, nesting, acc, qual)
            return self._normal(node, node_type, nesting, acc, qual)
        if kind == _LOGIC:
            if node_type in _PARENS:
                return (_LOGIC, nesting, acc, qual)
            if _logical_op(node, rules) is not None:
                return (_LOGIC, nesting, acc, qual)  # counted with its chain's root
        return self._normal(node, node_type, nesting, acc, qual)

    def walk(self, cursor: TreeCursor, interesting: frozenset[int]) -> None:
        """Visit every node under `cursor`; `interesting` holds the kind ids of the node types
        in `rules.interesting` (an int test per node: most nodes count for nothing, and
        reading `node.type` would build a string for each of them)."""
        stack: list[_Frame] = []  # the frames the ancestors were read in, innermost last
        parent: _Frame = (_PLAIN, 0, self.top, "")  # the frame the current node is read in
        visit = self.visit
        first_child, next_sibling, up = cursor.goto_first_child, cursor.goto_next_sibling, cursor.goto_parent
        while True:
            node = cursor.node
            assert node is not None  # a cursor made from a node always stands on one
            if parent[0] == _PLAIN and node.kind_id not in interesting:
                frame: _Frame | None = parent  # the common case: nothing to count, same frame
            else:
                frame = visit(node, cursor.field_name, parent)
            if frame is not None and first_child():
                stack.append(parent)
                parent = frame
                continue
            while not next_sibling():
                if not stack:
                    return
                up()
                parent = stack.pop()
                if not stack:
                    return


# Results by content: with `--repo`, a file's "after" in one commit of a range is its "before"
# in the next commit that touches it, and parsing plus walking is most of a PR's CPU. The key
# is a digest (the sources themselves are not kept); bounded, least recently used evicted.
_ANALYSED_MAX = 512
_analysed: OrderedDict[tuple[str, bytes], FileComplexity | None] = OrderedDict()
_analysed_lock = threading.Lock()


def analyse(source: bytes, language: str) -> FileComplexity | None:
    """Complexity of every outermost function in `source`; None for an unsupported language.

    Fragments parse too (tree-sitter recovers from errors), which is what the hunk-local
    fallback relies on: decision points are still found inside ERROR nodes. The result is a
    pure function of (source, language), so the same content is analysed once (bounded cache).
    """
    key = (language, hashlib.blake2b(source, digest_size=20).digest())
    with _analysed_lock:
        if key in _analysed:
            _analysed.move_to_end(key)
            return _analysed[key]
    result = _analyse(source, language)
    with _analysed_lock:
        _analysed[key] = result
        while len(_analysed) > _ANALYSED_MAX:
            _analysed.popitem(last=False)
    return result


def _analyse(source: bytes, language: str) -> FileComplexity | None:
    rules = _RULES.get(language)
    parser = _parser(language)
    if rules is None or parser is None:
        return None
    offset = 0
    if rules.php_tag and not source.lstrip().startswith(b"<?"):
        source = b"<?php\n" + source
        offset = 1
    tree = parser.parse(source)
    walker = _Walker(rules)
    walker.walk(tree.walk(), _interesting_ids(language))
    units = tuple(
        UnitComplexity(
            name=acc.name,
            start_line=max(1, acc.start - offset),
            end_line=max(1, acc.end - offset),
            cyclomatic=1 + acc.decisions,
            cognitive=acc.cognitive,
        )
        for acc in walker.units
    )
    return FileComplexity(
        units=units,
        toplevel_decisions=walker.top.decisions,
        toplevel_cognitive=walker.top.cognitive,
    )
