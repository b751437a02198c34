"""YAML files with line numbers; hostile YAML refused before anything is built.

``load_yaml`` reads a file with ``yaml.SafeLoader`` (plain dicts, lists and
scalars only), refuses duplicate mapping keys, and keeps the composed node tree
so that ``YamlDoc.line_of(("strategy", "batch_size"))`` can say on which line a
key or a list item was written. Hostile input is refused quickly, before any
value is built: nesting deeper than ``MAX_DEPTH`` (aliases included), an alias
that contains itself, and aliases that expand the document beyond
``MAX_EXPANDED`` values or four times what is written (a "billion laughs").
:mod:`fleet.config.validation` turns a pydantic error into one line naming
the file, the dotted field (:func:`dotted`), the line and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python parser does
    CParser = object  # type: ignore[assignment,misc]

from fleet.errors import ConfigError

Loc = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_DEPTH = 100
MAX_EXPANDED = 1_000_000


class _Refused(yaml.MarkedYAMLError):
    """YAML that parses but that fleet will not build: too deep, or an alias bomb."""


class _DepthComposer(Composer):
    """PyYAML's composer, refusing nesting deeper than ``MAX_DEPTH``.

    It composes recursively, three frames a level: a document nested ~1,000
    deep would otherwise end in a ``RecursionError``.
    """

    _depth = 0
    has_aliases = False  # no alias: no node is shared, nothing to expand

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):  # type: ignore[attr-defined]  # a mixin
            self.has_aliases = True
        if self._depth >= MAX_DEPTH:
            event: yaml.Event = self.peek_event()  # type: ignore[attr-defined]  # a mixin
            raise _Refused(problem=f"nested more than {MAX_DEPTH} levels deep; flatten it",
                           problem_mark=_mark(event.start_mark))
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PyLoader(Reader, Scanner, Parser, _DepthComposer, SafeConstructor, Resolver):
    """The pure-Python safe loader with the depth limit."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _DepthComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


class _CLoader(_DepthComposer, CParser, SafeConstructor, Resolver):
    """libyaml scans and parses (several times faster), Python composes with the limit."""

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        _DepthComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


_Loader = _CLoader if yaml.__with_libyaml__ else _PyLoader


def _mark(mark: object) -> yaml.Mark | None:
    """Return a libyaml or PyYAML mark as a PyYAML ``Mark`` (for the line number)."""
    line = getattr(mark, "line", None)
    if not isinstance(line, int):
        return None
    return yaml.Mark(str(getattr(mark, "name", "")), 0, line, int(getattr(mark, "column", 0)),
                     None, 0)


@dataclass(frozen=True)
class YamlDoc:
    """A loaded YAML document: plain ``data`` plus the node tree for line numbers."""

    data: object
    path: Path
    root: Node | None = field(default=None, repr=False, compare=False)
    _keys: dict[int, dict[str, tuple[int, Node]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Return the 1-based line of the key or list item at ``loc``, or None if absent.

        ``()`` is the document itself. Mapping keys match by their text, so
        ``("hosts", "1")`` finds a key written ``1:``.
        """
        found = self._find(loc)
        return None if found is None else found[0]

    def scalar_text(self, loc: Sequence[str | int]) -> str | None:
        """Return the text of the scalar at ``loc`` exactly as written, or None.

        ``123456`` gives ``"123456"`` although the data holds the int.
        """
        found = self._find(loc)
        node = None if found is None else found[1]
        return node.value if isinstance(node, ScalarNode) else None

    def _find(self, loc: Sequence[str | int]) -> tuple[int, Node] | None:
        """Return (line, node) at ``loc``; each mapping is indexed once, so a
        lookup costs the depth of ``loc``, not the size of the document."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            found = self._child(node, part)
            if found is None:
                return None
            line, node = found
        return line, node

    def _child(self, node: Node, part: str | int) -> tuple[int, Node] | None:
        """Return (line, node) of ``part`` inside ``node``, or None."""
        if isinstance(node, MappingNode):
            keys = self._keys.get(id(node))
            if keys is None:
                keys = {}
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode):
                        keys.setdefault(key_node.value, (key_node.start_mark.line + 1,
                                                         value_node))
                self._keys[id(node)] = keys
            return keys.get(str(part))
        if isinstance(node, SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            item: Node = node.value[part]
            return item.start_mark.line + 1, item
        return None

    def nearest_line(self, loc: Sequence[str | int]) -> int | None:
        """Return the line of ``loc``, or of its longest prefix that exists."""
        for end in range(len(loc), -1, -1):
            line = self.line_of(loc[:end])
            if line is not None:
                return line
        return None


def load_yaml(path: Path) -> YamlDoc:
    """Read ``path`` as one safe YAML document and keep its line numbers.

    Returns a ``YamlDoc`` whose ``data`` is None for an empty file.
    Raises ``ConfigError`` if the file cannot be read or is not UTF-8, if the
    YAML is invalid (naming the line and what was wrong), if a mapping has
    the same key twice, or if it is nested too deep or its aliases expand too
    far (see the module docstring).
    """
    name = str(path)
    loader = _Loader(read_text(path))
    try:
        root = loader.get_single_node()
        if root is not None and loader.has_aliases:
            _refuse_expansion(root)
        if root is not None:
            _refuse_duplicate_keys(root, name, ())
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, name) from None
    finally:
        loader.dispose()
    return YamlDoc(data=data, path=path, root=root)


def read_text(path: Path) -> str:
    """Return the text of ``path``.

    Raises ``ConfigError`` if the file is missing, unreadable or not UTF-8.
    """
    name = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=name) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=name) from None


def looks_like_yaml_mapping(text: str) -> bool:
    """True if ``text`` is one YAML document holding a mapping (nothing is built).

    YAML refused as too deep also counts, so that loading it names the problem.
    Raises nothing.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except _Refused:
        return True
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return isinstance(root, MappingNode) and root.tag == _MAP_TAG


def _yaml_error(exc: yaml.YAMLError, name: str) -> ConfigError:
    """Turn a PyYAML error into a ConfigError naming the line and the problem."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "malformed"
        context = f" ({exc.context})" if exc.context else ""
        line = mark.line + 1 if mark is not None else None
        prefix = "" if isinstance(exc, _Refused) else "invalid YAML: "
        return ConfigError(f"{prefix}{problem}{context}", file=name, line=line)
    return ConfigError(f"invalid YAML: {exc}", file=name)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _refuse_expansion(root: Node) -> None:
    """Raise ``_Refused`` if aliases make the document a cycle, too deep or too big.

    One pass over the written nodes (each alias is a shared node): the size
    and depth each node would have with every alias written out.
    """
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded depth)
    entered: dict[int, Node] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            sizes = [done[id(child)] for child in _children(node)]
            done[id(node)] = (1 + sum(s for s, _ in sizes), 1 + max((d for _, d in sizes),
                                                                    default=0))
            if done[id(node)][1] > MAX_DEPTH:
                raise _Refused(problem=f"aliases nest the document more than {MAX_DEPTH} "
                               "levels deep; write the values out", problem_mark=node.start_mark)
        elif id(node) in entered and id(node) not in done:
            raise _Refused(problem="an alias refers to a value that contains it; "
                           "write the value out", problem_mark=node.start_mark)
        elif id(node) not in done:
            entered[id(node)] = node
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    limit = max(MAX_EXPANDED, 4 * len(done))
    if done[id(root)][0] > limit:
        biggest = min((n for n in entered.values() if done[id(n)][0] > limit),
                      key=lambda n: done[id(n)][0])
        raise _Refused(problem=f"aliases expand the value here to more than {limit:,} values "
                       "(a YAML bomb?); write the values out or use fewer aliases",
                       problem_mark=biggest.start_mark)



def _refuse_duplicate_keys(node: Node, name: str, loc: Loc) -> None:
    """Raise ConfigError for the first mapping key written twice under ``node``."""
    seen: set[int] = set()
    stack: list[tuple[Node, Loc]] = [(node, loc)]
    while stack:
        current, where = stack.pop()
        if id(current) in seen:  # aliases may share nodes; visit each once
            continue
        seen.add(id(current))
        if isinstance(current, SequenceNode):
            stack.extend((item, (*where, i)) for i, item in enumerate(current.value))
        elif isinstance(current, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, value_node in current.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in first:
                    raise ConfigError(
                        f"duplicate key {key_node.value!r} (first written on line {first[key]});"
                        " keep only one",
                        file=name, field=dotted((*where, key_node.value)), line=line,
                    )
                first[key] = line
                stack.append((value_node, (*where, key_node.value)))


def dotted(loc: Sequence[str | int]) -> str:
    """Return ``loc`` as a dotted field path: ``checks[1].pattern``, ``hosts["a.b"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out
