"""fleet.config.release: manifests, ids and the folders a release needs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.config.playbook import Playbook, load_playbook
from fleet.config.release import Release, ReleaseFile, build_release, release_id
from fleet.errors import ConfigError

CONTENT = {"a.md": b"alpha\n", "b.md": b"beta\n", "sub/c.md": b"gamma\n",
           "sub/deep/d.md": b"delta\n"}


def make_tree(root: Path, content: dict[str, bytes] = CONTENT) -> Path:
    for name, data in content.items():
        path = root / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    return root


def playbook(root: Path, files: list[str] | None = None) -> Playbook:
    text = "name: demo\nsource: files\ntarget: ~/t\n"
    if files is not None:
        text += f"files: {files!r}\n"
    (root / "pb.yml").write_text(text)
    return load_playbook(root / "pb.yml")


def test_release_files_in_deploy_order(tmp_path: Path) -> None:
    order = ["sub/deep/d.md", "b.md", "a.md", "sub/c.md"]
    release = build_release(playbook(make_tree(tmp_path), order))
    assert [f.name for f in release.files] == order
    for f in release.files:
        assert f.source == tmp_path.resolve() / "files" / f.name
        assert f.sha256 == hashlib.sha256(CONTENT[f.name]).hexdigest()
        assert f.size == len(CONTENT[f.name])
        assert f.mode == 0o644
    assert release.total_size == sum(map(len, CONTENT.values()))
    assert len(release.id) == 8
    assert int(release.id, 16) >= 0


def test_id_is_stable_under_reordering(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    ids = {build_release(playbook(root, order)).id for order in (
        ["a.md", "b.md", "sub/c.md", "sub/deep/d.md"],
        ["sub/deep/d.md", "sub/c.md", "b.md", "a.md"],
        ["b.md", "sub/deep/d.md", "a.md", "sub/c.md"],
    )}
    ids.add(build_release(playbook(root)).id)  # the default, sorted order
    assert len(ids) == 1


def test_same_content_elsewhere_gives_the_same_id(tmp_path: Path) -> None:
    one = build_release(playbook(make_tree(tmp_path / "one")))
    two = build_release(playbook(make_tree(tmp_path / "two")))
    assert one.id == two.id
    assert one.files != two.files  # the sources differ, the manifest does not


def test_id_changes_with_content(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = build_release(playbook(root)).id
    (root / "files" / "b.md").write_bytes(b"beta!\n")
    assert build_release(playbook(root)).id != before


def test_id_changes_with_mode(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = build_release(playbook(root))
    (root / "files" / "a.md").chmod(0o755)
    after = build_release(playbook(root))
    assert after.id != before.id
    assert after.files[0].mode == 0o755


def test_id_changes_with_a_name_or_a_file_fewer(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = build_release(playbook(root)).id
    assert build_release(playbook(root, ["a.md", "b.md", "sub/c.md"])).id != before
    (root / "files" / "b.md").rename(root / "files" / "bb.md")
    assert build_release(playbook(root)).id != before


@pytest.mark.parametrize(("names", "dirs"), [
    (["a.md"], ()),
    (["a.md", "sub/c.md"], ("sub",)),
    (["sub/deep/d.md", "a.md"], ("sub", "sub/deep")),
    (["x/y/z/f", "x-y/g", "x/h"], ("x", "x-y", "x/y", "x/y/z")),
])
def test_dirs_parents_before_children(names: list[str], dirs: tuple[str, ...]) -> None:
    files = tuple(ReleaseFile(n, Path("/src") / n, "0" * 64, 0o644, 1) for n in names)
    assert Release(id="x", files=files).dirs() == dirs


def test_vanished_file_is_a_config_error(tmp_path: Path) -> None:
    pb = playbook(make_tree(tmp_path))
    (tmp_path / "files" / "b.md").unlink()
    with pytest.raises(ConfigError, match="cannot read") as info:
        build_release(pb)
    assert info.value.field == "files"
    assert info.value.file == str(tmp_path / "pb.yml")


def test_example_release() -> None:
    pb = load_playbook(Path(__file__).resolve().parents[2] / "playbooks" / "agents-framework.yml")
    release = build_release(pb)
    assert [f.name for f in release.files] == list(pb.file_list)
    assert release.dirs() == ()
    assert release.total_size > 150_000


files_strategy = st.lists(
    st.builds(
        ReleaseFile,
        name=st.lists(st.sampled_from(["a", "b", "sub", "x-y", "deep"]), min_size=1,
                      max_size=4).map("/".join),
        source=st.just(Path("/src")),
        sha256=st.binary(max_size=8).map(lambda b: hashlib.sha256(b).hexdigest()),
        mode=st.integers(0, 0o7777),
        size=st.integers(0, 10**6),
    ),
    max_size=12, unique_by=lambda f: f.name,
)


@given(files_strategy, st.randoms())
def test_release_id_ignores_order(files: list[ReleaseFile], rnd: object) -> None:
    shuffled = list(files)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert release_id(tuple(files)) == release_id(tuple(shuffled))


@given(files_strategy.filter(bool), st.integers(0, 0o7777))
def test_release_id_sees_every_mode(files: list[ReleaseFile], mode: int) -> None:
    changed = [ReleaseFile(f.name, f.source, f.sha256, mode, f.size) for f in files[:1]]
    if changed[0].mode != files[0].mode:
        assert release_id(tuple(changed + files[1:])) != release_id(tuple(files))


@given(files_strategy)
def test_dirs_cover_every_parent_once(files: list[ReleaseFile]) -> None:
    dirs = Release(id="x", files=tuple(files)).dirs()
    assert len(dirs) == len(set(dirs))
    for f in files:
        parts = f.name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            assert "/".join(parts[:i]) in dirs
    for d in dirs:
        parent = d.rpartition("/")[0]
        if parent:
            assert dirs.index(parent) < dirs.index(d)


@pytest.mark.parametrize(("mode", "words"), [
    (0o4755, "setuid bit"), (0o2755, "setgid bit"), (0o1755, "sticky bit"),
    (0o6755, "setuid and setgid bits"),
])
def test_setuid_setgid_and_sticky_sources_are_refused(tmp_path: Path, mode: int,
                                                      words: str) -> None:
    root = make_tree(tmp_path)
    (root / "files" / "b.md").chmod(mode)
    with pytest.raises(ConfigError) as info:
        build_release(playbook(root))
    assert info.value.file == str(root / "pb.yml")
    assert info.value.field == "source"
    assert str(root.resolve() / "files" / "b.md") in info.value.message
    assert words in info.value.message
    assert "allow_special_modes: true" in info.value.message
    with pytest.raises(ConfigError) as listed:
        build_release(playbook(root, ["a.md", "b.md"]))
    assert listed.value.field == "files[1]"


def test_allow_special_modes_deploys_them_as_they_are(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    (root / "files" / "b.md").chmod(0o4755)
    (root / "pb.yml").write_text("name: demo\nsource: files\ntarget: ~/t\n"
                                 "allow_special_modes: true\n")
    release = build_release(load_playbook(root / "pb.yml"))
    assert {f.name: f.mode for f in release.files}["b.md"] == 0o4755


def test_allow_special_modes_must_be_a_boolean(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    (root / "pb.yml").write_text("name: demo\nsource: files\ntarget: ~/t\n"
                                 "allow_special_modes: 'yes'\n")
    with pytest.raises(ConfigError) as info:
        load_playbook(root / "pb.yml")
    assert info.value.field == "allow_special_modes"
    assert info.value.line == 4
