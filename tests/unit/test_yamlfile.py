"""fleet.config.yamlfile: safe loading, line numbers, and one-line validation errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from fleet.config import yamlfile
from fleet.config.validation import config_error_from_validation
from fleet.config.yamlfile import YamlDoc, dotted, load_yaml
from fleet.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "doc.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


DOC = """\
name: demo
strategy:
  canary: 1
  batch_size: [2, "50%"]
checks:
  - {type: non_empty}
  - type: contains
    pattern: x
1: numeric key
"""


@pytest.mark.parametrize(("loc", "line"), [
    ((), 1),
    (("name",), 1),
    (("strategy",), 2),
    (("strategy", "canary"), 3),
    (("strategy", "batch_size"), 4),
    (("strategy", "batch_size", 1), 4),
    (("checks",), 5),
    (("checks", 0), 6),
    (("checks", 0, "type"), 6),
    (("checks", 1), 7),
    (("checks", 1, "pattern"), 8),
    (("1",), 9),
    ((1,), 9),
])
def test_line_of_finds_keys_and_items(
    tmp_path: Path, loc: tuple[str | int, ...], line: int,
) -> None:
    assert load_yaml(write(tmp_path, DOC)).line_of(loc) == line


@pytest.mark.parametrize("loc", [
    ("nope",), ("strategy", "forks"), ("checks", 2), ("checks", -1), ("name", "x"),
    ("checks", "0"),
])
def test_line_of_absent_is_none(tmp_path: Path, loc: tuple[str | int, ...]) -> None:
    assert load_yaml(write(tmp_path, DOC)).line_of(loc) is None


def test_nearest_line_falls_back_to_the_longest_existing_prefix(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, DOC))
    assert doc.nearest_line(("checks", 1, "file")) == 7
    assert doc.nearest_line(("zzz",)) == 1


def test_data_is_plain_python(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, DOC))
    assert doc.data == {
        "name": "demo",
        "strategy": {"canary": 1, "batch_size": [2, "50%"]},
        "checks": [{"type": "non_empty"}, {"type": "contains", "pattern": "x"}],
        1: "numeric key",
    }
    assert doc.path == tmp_path / "doc.yml"


def test_empty_file_has_no_data_and_no_lines(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "# only a comment\n"))
    assert doc.data is None
    assert doc.line_of(()) is None


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("a: [1, 2\nb: 3\n", 2, "expected ',' or ']'"),
    ("a: 1\n\tb: 2\n", 2, "cannot start any token|tab character"),  # PyYAML|libyaml
    ("a:\n  b: 1\n c: 2\n", 3, "invalid YAML"),
    ("a: 'unclosed\n", 2, "invalid YAML"),
    ("a: 1\n---\nb: 2\n", 2, "single document"),
    ("a: !!python/object/apply:os.system ['true']\n", 1, "could not determine a constructor"),
    ("a: *nowhere\n", 1, "undefined alias"),
])
def test_invalid_yaml_names_file_line_and_problem(
    tmp_path: Path, text: str, line: int, fragment: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert info.value.file == str(path)
    assert info.value.line == line
    assert any(part in info.value.message for part in fragment.split("|"))
    assert info.value.render().startswith(f"{path}:{line}: invalid YAML")


@pytest.mark.parametrize(("text", "field", "line", "first"), [
    ("a: 1\nb: 2\na: 3\n", "a", 3, 1),
    ("top:\n  x: 1\n  y: 2\n  x: 3\n", "top.x", 4, 2),
    ("l:\n  - {k: 1, k: 2}\n", "l[0].k", 2, 2),
    ("a: 1\n'a': 2\n", "a", 2, 1),
])
def test_duplicate_keys_are_refused(
    tmp_path: Path, text: str, field: str, line: int, first: int,
) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml(write(tmp_path, text))
    assert info.value.field == field
    assert info.value.line == line
    assert f"first written on line {first}" in info.value.message


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  x: 9\n"
    assert load_yaml(write(tmp_path, text)).data == {
        "base": {"x": 1, "y": 2}, "child": {"x": 9, "y": 2},
    }


def test_different_types_of_key_are_not_duplicates(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "1: a\n'1': b\n")).data == {1: "a", "1": "b"}


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml(tmp_path / "absent.yml")
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_yaml(binary)
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path)


@pytest.mark.parametrize(("loc", "text"), [
    ((), ""),
    (("strategy", "batch_size"), "strategy.batch_size"),
    (("checks", 1, "pattern"), "checks[1].pattern"),
    ((0, "a"), "[0].a"),
    (("hosts", "web.example.com", "port"), "hosts['web.example.com'].port"),
])
def test_dotted(loc: tuple[str | int, ...], text: str) -> None:
    assert dotted(loc) == text


class Inner(BaseModel, frozen=True, extra="forbid"):
    size: int = Field(default=1, description="a size")
    label: str = Field(default="x", description="a label")


class KindA(BaseModel, frozen=True, extra="forbid"):
    type: Literal["a"] = Field(description="tag")
    pattern: str = Field(description="required")


class KindB(BaseModel, frozen=True, extra="forbid"):
    type: Literal["b"] = Field(description="tag")


class Outer(BaseModel, frozen=True, extra="forbid"):
    name: str = Field(description="name")
    inner: Inner = Field(default_factory=Inner, description="inner")
    items: tuple[Annotated[KindA | KindB, Field(discriminator="type")], ...] = Field(
        default=(), description="items")


OUTER = """\
name: demo
inner:
  size: 3
items:
  - type: b
  - type: a
    pattern: p
"""


def error_for(tmp_path: Path, text: str) -> tuple[ConfigError, Path]:
    path = write(tmp_path, text)
    doc = load_yaml(path)
    with pytest.raises(ValidationError) as info:
        Outer.model_validate(doc.data)
    return config_error_from_validation(info.value, str(path), doc, model=Outer), path


@pytest.mark.parametrize(("text", "field", "line", "message"), [
    (OUTER.replace("size: 3", "sise: 3"), "inner.sise", 3,
     "unknown key 'sise'; did you mean 'size'? allowed keys: label, size"),
    (OUTER + "extra: 1\n", "extra", 8, "unknown key 'extra'; allowed keys: inner, items, name"),
    (OUTER.replace("size: 3", "size: three"), "inner.size", 3,
     "expected an integer, got 'three' (a string)"),
    (OUTER.replace("name: demo", "name: [1]"), "name", 1, "expected a string, got [1] (a list)"),
    (OUTER.replace("    pattern: p\n", "    patern: p\n"), "items[1].patern", 7,
     "unknown key 'patern'; did you mean 'pattern'? allowed keys: pattern, type"),
    (OUTER.replace("    pattern: p\n", ""), "items[1].pattern", 6,
     "required key missing; add 'pattern:'"),
    (OUTER.replace("type: b", "type: c"), "items[0]", 5, "unknown type 'c'"),
    (OUTER.replace("name: demo\n", ""), "name", 1, "required key missing; add 'name:'"),
    (OUTER.replace("  size: 3", "  size:"), "inner.size", 3, "got nothing (null)"),
])
def test_validation_error_becomes_one_clear_line(
    tmp_path: Path, text: str, field: str, line: int, message: str,
) -> None:
    error, path = error_for(tmp_path, text)
    assert error.field == field
    assert error.line == line
    assert message in error.message
    assert error.render() == f"{path}:{line}: {field}: {error.message}"
    assert "\n" not in error.render()


def test_without_model_unknown_key_still_named(tmp_path: Path) -> None:
    path = write(tmp_path, OUTER + "extra: 1\n")
    doc = load_yaml(path)
    with pytest.raises(ValidationError) as info:
        Outer.model_validate(doc.data)
    error = config_error_from_validation(info.value, str(path), doc)
    assert error.message == "unknown key 'extra'"


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    error, _ = error_for(tmp_path, "- a\n- b\n")
    assert error.field is None
    assert error.line == 1
    assert "expected a mapping" in error.message


keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
scalars = st.one_of(st.integers(), st.booleans(), st.text(max_size=20))


@given(st.dictionaries(keys, scalars, min_size=1, max_size=12))
def test_line_of_each_key_of_a_dumped_mapping(tmp_path_factory: pytest.TempPathFactory,
                                              data: dict[str, object]) -> None:
    text = yaml.safe_dump(data, sort_keys=False, width=10_000)
    path = tmp_path_factory.mktemp("h") / "doc.yml"
    path.write_text(text)
    doc = load_yaml(path)
    assert doc.data == data
    lines = text.splitlines()
    for key in data:
        line = doc.line_of((key,))
        assert line is not None
        assert lines[line - 1].lstrip("'\"").startswith(f"{key}")  # 'no' and 'on' get quoted


@given(st.lists(st.lists(scalars, max_size=3), min_size=1, max_size=8))
def test_line_of_list_items_in_block_style(tmp_path_factory: pytest.TempPathFactory,
                                           data: list[list[object]]) -> None:
    text = yaml.safe_dump({"items": data}, default_flow_style=False, width=10_000)
    path = tmp_path_factory.mktemp("h") / "doc.yml"
    path.write_text(text)
    doc = load_yaml(path)
    lines = text.splitlines()
    lines_seen = [doc.line_of(("items", i)) for i in range(len(data))]
    assert all(line is not None for line in lines_seen)
    assert lines_seen == sorted(lines_seen)  # type: ignore[type-var]
    for line in lines_seen:
        assert lines[line - 1].lstrip().startswith("-")  # type: ignore[operator]


def test_yamldoc_is_frozen(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "a: 1\n"))
    assert isinstance(doc, YamlDoc)
    with pytest.raises(AttributeError):
        doc.data = {}  # type: ignore[misc]


# Hostile input: refused in one line, quickly, before any value is built.

LOADERS = [yamlfile._PyLoader] + ([yamlfile._CLoader] if yaml.__with_libyaml__ else [])


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def each_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the test with the pure-Python parser and, if PyYAML has it, libyaml's."""
    monkeypatch.setattr(yamlfile, "_Loader", request.param)


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: 9 lines of 9 aliases each expand to 9**9 strings."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.usefixtures("each_loader")
@pytest.mark.parametrize("text", [
    "a: " + "[" * 1000 + "]" * 1000 + "\n",
    "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 1001)),
    "a: " + "{b: " * 1000 + "1" + "}" * 1000 + "\n",
], ids=["flow-lists", "block-maps", "flow-maps"])
def test_nesting_1000_deep_is_refused_not_a_traceback(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert info.value.file == str(path)
    assert info.value.line is not None
    assert f"nested more than {yamlfile.MAX_DEPTH} levels deep" in info.value.message


@pytest.mark.usefixtures("each_loader")
def test_nesting_within_the_limit_loads(tmp_path: Path) -> None:
    depth = yamlfile.MAX_DEPTH - 2
    data = load_yaml(write(tmp_path, "a: " + "[" * depth + "]" * depth + "\n")).data
    assert isinstance(data, dict)


@pytest.mark.usefixtures("each_loader")
@pytest.mark.parametrize("prefix", ["", "name: x\n", "all:\n  vars:\n    ok: 1\n"])
def test_an_alias_bomb_is_refused_before_anything_is_expanded(tmp_path: Path,
                                                               prefix: str) -> None:
    path = write(tmp_path, prefix + billion_laughs())
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert "aliases expand" in info.value.message
    assert info.value.file == str(path)
    assert info.value.line is not None


def test_the_alias_check_counts_each_written_node_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Structural, not timed: the check of a bomb that expands to 9**12 values
    visits each of its ~120 written nodes a bounded number of times."""
    visits = 0
    children = yamlfile._children

    def counting(node: yaml.Node) -> list[yaml.Node]:
        nonlocal visits
        visits += 1
        return children(node)

    monkeypatch.setattr(yamlfile, "_children", counting)
    loader = yamlfile._Loader(billion_laughs(levels=12))
    root = loader.get_single_node()
    assert root is not None
    with pytest.raises(yaml.YAMLError, match="aliases expand"):
        yamlfile._refuse_expansion(root)
    assert visits < 4 * 12 * 12


@pytest.mark.usefixtures("each_loader")
@pytest.mark.parametrize(("text", "fragment"), [
    ("a: &a [1, *a]\n", "refers to a value that contains it"),
    ("a: &a {x: *a}\n", "refers to a value that contains it"),
    ("a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 150)),
     "aliases nest the document more than"),
])
def test_self_referring_and_deeply_chained_aliases_are_refused(
    tmp_path: Path, text: str, fragment: str,
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_yaml(write(tmp_path, text))


@pytest.mark.usefixtures("each_loader")
def test_ordinary_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    hosts = "".join(f"  h{i}: {{<<: *defaults, n: {i}}}\n" for i in range(2000))
    text = "defaults: &defaults {ansible_user: deploy, ansible_port: 22}\nhosts:\n" + hosts
    data = load_yaml(write(tmp_path, text)).data
    assert isinstance(data, dict)
    assert data["hosts"]["h1999"] == {"ansible_user": "deploy", "ansible_port": 22, "n": 1999}


@pytest.mark.usefixtures("each_loader")
def test_scalar_text_is_the_text_as_written(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "a: {pw: 0123, n: 1_000, s: 'x'}\nl: [1.50]\n"))
    assert doc.data == {"a": {"pw": 83, "n": 1000, "s": "x"}, "l": [1.5]}
    assert doc.scalar_text(("a", "pw")) == "0123"
    assert doc.scalar_text(("a", "n")) == "1_000"
    assert doc.scalar_text(("l", 0)) == "1.50"
    assert doc.scalar_text(("a",)) is None
    assert doc.scalar_text(("nope",)) is None
