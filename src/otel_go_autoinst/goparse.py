"""What the pipeline needs to know of a Go file, read with tree-sitter-go: its top-level declarations.

Only top-level declarations are walked, and only files that can hold a target are parsed at all
(callers pre-filter by name). Byte offsets are kept so the rewrite can edit the source in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter_go
from tree_sitter import Language, Node, Parser

IGNORE_DIRECTIVE = "//otel:ignore"
SPAN_DIRECTIVE = "//otel:span"

PREDECLARED = {
    "bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
    "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
    "uintptr", "any", "comparable",
}  # fmt: skip
ALIASES = {"byte": "uint8", "rune": "int32", "interface{}": "any"}
# The canonical form of a type that mentions a type parameter: a hook receives it as any.
TYPE_PARAM = "<type parameter>"


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_go.language()))


@dataclass(frozen=True)
class Param:
    name: str | None  # None when unnamed; "_" when blank
    type_text: str  # as written (variadic "...T" written as "[]T")
    canonical: str  # package-qualified, TYPE_PARAM when it mentions a type parameter
    variadic: bool = False
    name_start: int | None = None  # byte range of the name, to rename a blank one
    name_end: int | None = None
    type_start: int = 0  # where a name goes when the parameter has none


@dataclass(frozen=True)
class TypeParam:
    name: str
    constraint: str


@dataclass(frozen=True)
class FuncDecl:
    name: str
    receiver: Param | None
    receiver_base: str | None  # "Stack" for (s *Stack[T])
    receiver_pointer: bool
    type_params: tuple[TypeParam, ...]  # of the function, or the receiver's type parameter names
    params: tuple[Param, ...]
    results: tuple[Param, ...]
    results_parenthesized: bool
    results_start: int | None  # byte range of the result part of the signature
    results_end: int | None
    body_open: int | None  # offset of the body's "{"; None for a function without a body
    line: int  # 1-based line of "func"
    brace_line: int | None
    ignored: bool
    used_qualifiers: frozenset[str]  # import names its signature uses ("url" in *url.URL)
    # The arguments of a //otel:span line above the declaration ("" without any), None without one
    span_directive: str | None = None
    span_directive_line: int = 0  # the 1-based line of that //otel:span comment

    @property
    def display_receiver(self) -> str | None:
        if self.receiver_base is None:
            return None
        return ("*" if self.receiver_pointer else "") + self.receiver_base

    @property
    def qualified_name(self) -> str:
        """Type.Method or Func, as the CallContext's GetFuncName gives it."""
        return f"{self.receiver_base}.{self.name}" if self.receiver_base else self.name


@dataclass(frozen=True)
class Import:
    name: str | None  # explicit name, "_" or "." when given
    path: str
    text: str  # the import spec as written

    @property
    def local_name(self) -> str:
        return self.name if self.name else assumed_package_name(self.path)


def assumed_package_name(path: str) -> str:
    """The name an unnamed import binds, by Go's convention (as goimports assumes it): the last
    element, skipping a major-version element (`echo/v4` -> echo), without a `.vN` suffix
    (`gopkg.in/yaml.v3` -> yaml) or a `go-` prefix, cut at the first non-identifier character."""
    elements = path.split("/")
    last = elements[-1]
    if len(elements) > 1 and re.fullmatch(r"v[0-9]+", last):
        last = elements[-2]
    last = re.sub(r"\.v[0-9]+$", "", last).removeprefix("go-")
    return re.match(r"[A-Za-z0-9_]*", last)[0] or last  # type: ignore[index]


@dataclass
class GoFile:
    path: str
    source: bytes
    package: str
    imports: list[Import]
    build_constraint: str | None  # the //go:build line, kept for generated companions
    ignored: bool  # //otel:ignore before the package clause
    functions: list[FuncDecl] = field(default_factory=list)
    # type name -> (type parameters, offset just after the "{" of a struct type or None)
    types: dict[str, tuple[tuple[TypeParam, ...], int | None]] = field(default_factory=dict)
    syntax_error: tuple[int, int] | None = None  # (line, column) of the first error

    def import_map(self) -> dict[str, str]:
        return {i.local_name: i.path for i in self.imports if i.name not in ("_", ".")}

    @property
    def has_dot_import(self) -> bool:
        return any(i.name == "." for i in self.imports)


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8") if node is not None and node.text is not None else ""


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return node


class _TypeCanon:
    """Canonical type strings, so a hook's types and a target's compare across packages."""

    def __init__(self, imports: dict[str, str], package_path: str, type_params: set[str]):
        self.imports = imports
        self.package_path = package_path
        self.type_params = type_params
        self.mentions_type_param = False
        self.qualifiers: set[str] = set()

    def canon(self, node: Node) -> str:
        self.mentions_type_param = False
        text = self._walk(node)
        return TYPE_PARAM if self.mentions_type_param else text

    def _walk(self, node: Node) -> str:
        kind = node.type
        if kind == "type_identifier":
            name = _text(node)
            if name in self.type_params:
                self.mentions_type_param = True
                return name
            if name in PREDECLARED:
                return ALIASES.get(name, name)
            return f"{self.package_path}.{name}"
        if kind == "qualified_type":
            qualifier = _text(node.child_by_field_name("package"))
            self.qualifiers.add(qualifier)
            path = self.imports.get(qualifier, qualifier)
            return f"{path}.{_text(node.child_by_field_name('name'))}"
        if kind == "pointer_type":
            return "*" + self._walk(node.named_children[-1])
        if kind == "slice_type":
            return "[]" + self._walk(node.child_by_field_name("element"))  # type: ignore[arg-type]
        if kind == "array_type":
            length = re.sub(r"\s+", "", _text(node.child_by_field_name("length")))
            return f"[{length}]" + self._walk(node.child_by_field_name("element"))  # type: ignore[arg-type]
        if kind == "map_type":
            key = self._walk(node.child_by_field_name("key"))  # type: ignore[arg-type]
            return f"map[{key}]" + self._walk(node.child_by_field_name("value"))  # type: ignore[arg-type]
        if kind in ("parenthesized_type", "type_elem", "type_constraint") and node.named_children:
            return self._walk(node.named_children[0])
        if kind == "generic_type":
            base = self._walk(node.child_by_field_name("type"))  # type: ignore[arg-type]
            args = node.child_by_field_name("type_arguments")
            inner = ",".join(self._walk(a) for a in args.named_children) if args else ""
            return f"{base}[{inner}]"
        if kind == "interface_type" and not node.named_children:
            return "any"
        if kind == "channel_type":
            prefix = re.sub(r"\s+", "", _text(node)[: _text(node).find("chan") + 4])
            return f"{prefix} " + self._walk(node.named_children[-1])
        if kind == "function_type":
            params = node.child_by_field_name("parameters")
            result = node.child_by_field_name("result")
            out = "func(" + ",".join(self._params(params)) + ")"
            if result is not None:
                if result.type == "parameter_list":
                    out += "(" + ",".join(self._params(result)) + ")"
                else:
                    out += self._walk(result)
            return out
        # struct and non-empty interface literals, and anything rarer: compare as written.
        for ident in _descendants(node, "qualified_type"):
            self.qualifiers.add(_text(ident.child_by_field_name("package")))
        return re.sub(r"\s+", " ", _text(node))

    def _params(self, plist: Node | None) -> list[str]:
        out: list[str] = []
        for decl in plist.named_children if plist else []:
            type_node = decl.child_by_field_name("type")
            if type_node is None:
                continue
            canon = self._walk(type_node)
            if decl.type == "variadic_parameter_declaration":
                canon = "..." + canon
            names = decl.children_by_field_name("name")
            out.extend([canon] * max(1, len(names)))
        return out


def _descendants(node: Node, kind: str) -> list[Node]:
    found = [node] if node.type == kind else []
    for child in node.named_children:
        found.extend(_descendants(child, kind))
    return found


def _type_params(plist: Node | None) -> tuple[TypeParam, ...]:
    out: list[TypeParam] = []
    for decl in plist.named_children if plist else []:
        if decl.type != "type_parameter_declaration":
            continue
        constraint = _text(decl.child_by_field_name("type"))
        for name in decl.children_by_field_name("name"):
            out.append(TypeParam(_text(name), constraint))
    return tuple(out)


def _params(plist: Node | None, canon: _TypeCanon) -> list[Param]:
    params: list[Param] = []
    for decl in plist.named_children if plist else []:
        if decl.type not in ("parameter_declaration", "variadic_parameter_declaration"):
            continue
        type_node = decl.child_by_field_name("type")
        if type_node is None:
            continue
        variadic = decl.type == "variadic_parameter_declaration"
        type_text = _text(type_node)
        canonical = canon.canon(type_node)
        if variadic:
            type_text = "[]" + type_text
            canonical = canonical if canonical == TYPE_PARAM else "[]" + canonical
        names = decl.children_by_field_name("name")
        if not names:
            params.append(Param(None, type_text, canonical, variadic, type_start=decl.start_byte))
        for name in names:
            params.append(
                Param(
                    _text(name),
                    type_text,
                    canonical,
                    variadic,
                    name.start_byte,
                    name.end_byte,
                    type_node.start_byte,
                )
            )
    return params


def _receiver_info(receiver: Node) -> tuple[str | None, bool, list[str], Node | None]:
    decls = [c for c in receiver.named_children if c.type == "parameter_declaration"]
    if not decls:
        return None, False, [], None
    type_node = decls[0].child_by_field_name("type")
    node = type_node
    pointer = False
    while node is not None and node.type in ("pointer_type", "parenthesized_type"):
        pointer = pointer or node.type == "pointer_type"
        node = node.named_children[-1] if node.named_children else None
    names: list[str] = []
    if node is not None and node.type == "generic_type":
        args = node.child_by_field_name("type_arguments")
        names = [_text(a) for a in (args.named_children if args else [])]
        node = node.child_by_field_name("type")
    return (_text(node) if node is not None else None), pointer, names, type_node


def _directives(decl: Node) -> tuple[bool, str | None, int]:
    """The //otel: directives in the comment block right above the declaration: whether it has
    //otel:ignore, and the arguments and line of its //otel:span (None, 0 without one). Like Go's
    own directives, they are spelled with no space after "//"."""
    ignored, span, span_line = False, None, 0
    prev = decl.prev_sibling
    expected_row = decl.start_point[0] - 1
    while prev is not None and prev.type == "comment" and prev.end_point[0] == expected_row:
        text = _text(prev).strip()
        if text == IGNORE_DIRECTIVE:
            ignored = True
        elif span is None and (
            text == SPAN_DIRECTIVE
            or text.startswith(SPAN_DIRECTIVE + " ")
            or text.startswith(SPAN_DIRECTIVE + "\t")
        ):
            span, span_line = text[len(SPAN_DIRECTIVE) :].strip(), _line(prev)
        expected_row = prev.start_point[0] - 1
        prev = prev.prev_sibling
    return ignored, span, span_line


def parse_file(path: str, source: bytes, package_path: str) -> GoFile:
    """Parse one Go file of the package `package_path` (the import path its own types resolve to)."""
    root = _parser().parse(source).root_node
    package = ""
    imports: list[Import] = []
    constraint = None
    file_ignored = False
    for node in root.children:
        if node.type == "package_clause":
            package = _text(node.named_children[-1])
            break
        if node.type == "comment":
            text = _text(node).strip()
            if text.startswith("//go:build"):
                constraint = text
            if text == IGNORE_DIRECTIVE:
                file_ignored = True
    for node in root.named_children:
        if node.type != "import_declaration":
            continue
        for spec in _descendants(node, "import_spec"):
            name_node = spec.child_by_field_name("name")
            path_node = spec.child_by_field_name("path")
            imp_path = _text(path_node).strip('"`')
            imports.append(Import(_text(name_node) or None, imp_path, _text(spec)))

    gofile = GoFile(path, source, package, imports, constraint, file_ignored)
    error = _first_error(root)
    if error is not None:
        gofile.syntax_error = (_line(error), error.start_point[1] + 1)
    import_map = gofile.import_map()

    for node in root.named_children:
        if node.type == "type_declaration":
            for spec in node.named_children:
                if spec.type != "type_spec":
                    continue
                struct_open = None
                type_node = spec.child_by_field_name("type")
                if type_node is not None and type_node.type == "struct_type":
                    fields = type_node.named_children[0] if type_node.named_children else None
                    struct_open = fields.start_byte + 1 if fields is not None else None
                declared = _type_params(spec.child_by_field_name("type_parameters"))
                gofile.types[_text(spec.child_by_field_name("name"))] = (declared, struct_open)
        if node.type not in ("function_declaration", "method_declaration"):
            continue
        receiver_node = node.child_by_field_name("receiver")
        base, pointer, receiver_tparams, _ = (
            _receiver_info(receiver_node) if receiver_node else (None, False, [], None)
        )
        tparams = _type_params(node.child_by_field_name("type_parameters"))
        names = {p.name for p in tparams} | set(receiver_tparams)
        canon = _TypeCanon(import_map, package_path, names)
        receiver = None
        if receiver_node is not None:
            found = _params(receiver_node, canon)
            receiver = found[0] if found else None
            if not tparams and receiver_tparams:
                # Constraints come from the type declaration; the planner fills them in.
                tparams = tuple(TypeParam(n, "") for n in receiver_tparams)
        params = _params(node.child_by_field_name("parameters"), canon)
        result = node.child_by_field_name("result")
        if result is None:
            results: list[Param] = []
        elif result.type == "parameter_list":
            results = _params(result, canon)
        else:
            results = [
                Param(None, _text(result), canon.canon(result), type_start=result.start_byte)
            ]
        body = node.child_by_field_name("body")
        ignored, span, span_line = _directives(node)
        gofile.functions.append(
            FuncDecl(
                name=_text(node.child_by_field_name("name")),
                receiver=receiver,
                receiver_base=base,
                receiver_pointer=pointer,
                type_params=tparams,
                params=tuple(params),
                results=tuple(results),
                results_parenthesized=result is not None and result.type == "parameter_list",
                results_start=result.start_byte if result is not None else None,
                results_end=result.end_byte if result is not None else None,
                body_open=body.start_byte if body is not None else None,
                line=_line(node),
                brace_line=_line(body) if body is not None else None,
                ignored=ignored,
                used_qualifiers=frozenset(canon.qualifiers),
                span_directive=span,
                span_directive_line=span_line,
            )
        )
    return gofile


def function_bodies(source: bytes) -> dict[str, tuple[list[str], Node | None]]:
    """Top-level functions of a file: parameter names and body, for following a hook's calls."""
    root = _parser().parse(source).root_node
    found: dict[str, tuple[list[str], Node | None]] = {}
    for node in root.named_children:
        if node.type == "function_declaration":
            canon = _TypeCanon({}, "", set())
            names = [p.name or "" for p in _params(node.child_by_field_name("parameters"), canon)]
            found[_text(node.child_by_field_name("name"))] = (
                names,
                node.child_by_field_name("body"),
            )
    return found


def context_methods(
    body: Node | None,
    call_param: str | None,
    functions: dict[str, tuple[list[str], Node | None]],
    _seen: frozenset[str] = frozenset(),
) -> frozenset[str] | None:
    """The CallContext methods a hook body may call on its `call_param`, or None when that cannot
    be known (the CallContext is handed to something other than a function of the hooks package,
    given in `functions`, or assigned away): then it may call any of them."""
    if body is None:
        return None
    if not call_param or call_param == "_":
        return frozenset()
    used: set[str] = set()
    for ident in _descendants(body, "identifier"):
        if _text(ident) != call_param:
            continue
        parent = ident.parent
        if parent is not None and parent.type == "selector_expression":
            if parent.child_by_field_name("operand") == ident:
                used.add(_text(parent.child_by_field_name("field")))
                continue
        callee = _callee_with_argument(ident)
        if callee is None or callee[0] not in functions or callee[0] in _seen:
            return None
        names, callee_body = functions[callee[0]]
        inner = (
            context_methods(callee_body, names[callee[1]], functions, _seen | {callee[0]})
            if callee[1] < len(names)
            else None
        )
        if inner is None:
            return None
        used |= inner
    return frozenset(used)


def _callee_with_argument(ident: Node) -> tuple[str, int] | None:
    """(function name, argument index) when `ident` is passed directly to a plain function call."""
    args = ident.parent
    if args is None or args.type != "argument_list":
        return None
    call = args.parent
    function = call.child_by_field_name("function") if call is not None else None
    if function is None or function.type != "identifier":
        return None
    return _text(function), [c.id for c in args.named_children].index(ident.id)
