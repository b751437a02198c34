"""The DOM Chromium dumps (``--dump-dom``), as a small tree to query: every element
with its attributes, children and text (the stdlib's HTML parser; no lxml)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


@dataclass
class Element:
    """One element: its tag, attributes (values unescaped), children and own text."""

    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        """The words of its ``class`` attribute."""
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Element]:
        """This element and every element under it, in document order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag: str | None = None, *classes: str, **attrs: str) -> list[Element]:
        """Elements under this one (itself included) with ``tag``, every class of
        ``classes`` and every attribute of ``attrs`` (``data_host`` is ``data-host``)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.walk()
                if (tag is None or e.tag == tag) and set(classes) <= e.classes
                and all(e.attrs.get(k) == v for k, v in wanted.items())]

    def find(self, tag: str | None = None, *classes: str, **attrs: str) -> Element:
        """The only element :meth:`find_all` finds; AssertionError if not exactly one."""
        found = self.find_all(tag, *classes, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag}> with {classes} {attrs}"
        return found[0]

    def text(self) -> str:
        """All the text under this element."""
        return "".join(self.texts) + "".join(c.text() for c in self.children)

    def number(self, name: str) -> float:
        """A numeric attribute."""
        return float(self.attrs[name])

    def ancestor(self, tag: str, *classes: str) -> Element:
        """The nearest enclosing element with ``tag`` and ``classes``."""
        node = self.parent
        while node is not None:
            if node.tag == tag and set(classes) <= node.classes:
                return node
            node = node.parent
        raise AssertionError(f"no enclosing <{tag}> with {classes}")


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.open)
        self.open.children.append(element)
        if tag not in VOID:
            self.open = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.open))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.open
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.open = node.parent

    def handle_data(self, data: str) -> None:
        self.open.texts.append(data)


def parse(html: str) -> Element:
    """The element tree of ``html``."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
