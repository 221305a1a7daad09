"""The validated rule base is cached by the sha256 of everything a load reads; a changed file is never
served from the cache, and an unreadable, stale, corrupt or foreign cache file means a full load."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from framework_advisor.rules import rulebase as rulebase_module
from framework_advisor.rules import rulecache
from framework_advisor.rules.rulebase import load_rulebase


@pytest.fixture()
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home / "framework-advisor"


@pytest.fixture()
def full_loads(monkeypatch):
    """Counts full loads (parse and validate), as opposed to loads served from the cache."""
    calls = []
    real = rulebase_module._load

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rulebase_module, "_load", counting)
    return calls


def _entries(cache_home):
    return sorted(cache_home.glob("rulebase-*.pickle"))


def test_a_second_load_is_served_from_the_cache(cache_home, base_copy, full_loads):
    first = load_rulebase(base_dir=base_copy)
    assert len(full_loads) == 1
    [entry] = _entries(cache_home)
    assert stat.S_IMODE(cache_home.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) & 0o077 == 0
    second = load_rulebase(base_dir=base_copy)
    assert len(full_loads) == 1, "served from the cache"
    assert second.sha256 == first.sha256 and second.rules == first.rules
    assert second.rule_locations == first.rule_locations and second.remedies == first.remedies
    assert second.frameworks["tensorflow"].name == first.frameworks["tensorflow"].name == "TensorFlow (Keras)"


def test_a_changed_rule_file_is_never_served_from_the_cache(cache_home, base_copy, full_loads):
    first = load_rulebase(base_dir=base_copy)
    path = base_copy / "rules-knowledge.yaml"
    text = path.read_text(encoding="utf-8")
    before = path.stat()
    # Same size, same modification time: only the content says it changed.
    changed = text.replace("reviewed: 2026-11-22", "reviewed: 2026-11-21", 1)
    assert changed != text and len(changed) == len(text)
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = load_rulebase(base_dir=base_copy)
    assert len(full_loads) == 2 and second.sha256 != first.sha256
    changed_rules = [rule for rule in second.rules if rule not in first.rules]
    assert len(changed_rules) == 1 and str(changed_rules[0].reviewed) == "2026-11-21"
    path.write_text(text, encoding="utf-8")  # and back: the same key as the first load again
    assert load_rulebase(base_dir=base_copy).sha256 == first.sha256


def test_a_new_file_an_extra_directory_or_a_changed_starter_is_a_new_key(cache_home, base_copy, tmp_path, full_loads):
    load_rulebase(base_dir=base_copy)
    (base_copy / "zz-more.yaml").write_text("facts:\n  spare:\n    type: bool\n    source: user\n    description: Unused.\n")
    assert "spare" in load_rulebase(base_dir=base_copy).facts and len(full_loads) == 2
    extra = tmp_path / "extra"
    extra.mkdir()
    load_rulebase([extra], base_dir=base_copy)
    assert len(full_loads) == 3
    contents = rulebase_module._read_directories([base_copy])
    starters = tmp_path / "starters"
    shutil.copytree(rulebase_module.STARTER_DIR, starters)
    key = rulecache.cache_key(contents, starters)
    (starters / "basics" / "numpy.py.tmpl").write_text('DEVICE = "cpu"\nprint("changed")\n')
    assert rulecache.cache_key(contents, starters) != key


@pytest.mark.parametrize("damage", ["garbage", "truncated-pickle", "other-key", "not-ours-writable", "empty"])
def test_a_corrupt_stale_or_foreign_cache_file_falls_back_to_a_full_load(cache_home, base_copy, full_loads, damage):
    expected = load_rulebase(base_dir=base_copy)
    [entry] = _entries(cache_home)
    content = entry.read_bytes()
    header_end = content.index(b"\n", len(rulecache.MAGIC)) + 1
    if damage == "garbage":
        entry.write_bytes(b"\x80\x04not a pickle at all")
    elif damage == "truncated-pickle":
        entry.write_bytes(content[:header_end + 40])
    elif damage == "other-key":
        entry.write_bytes(rulecache.MAGIC + b"0" * 64 + b"\n" + content[header_end:])
    elif damage == "not-ours-writable":
        entry.chmod(0o666)  # writable by anyone: never unpickled
    else:
        entry.write_bytes(b"")
    loaded = load_rulebase(base_dir=base_copy)
    assert len(full_loads) == 2, "a full load, not the damaged entry"
    assert loaded.sha256 == expected.sha256
    [rewritten] = _entries(cache_home)
    assert rewritten.read_bytes()[:header_end] == content[:header_end]
    assert stat.S_IMODE(rewritten.stat().st_mode) & 0o077 == 0
    load_rulebase(base_dir=base_copy)
    assert len(full_loads) == 2, "the rewritten entry is used"


def test_a_cache_directory_others_can_enter_is_made_private_and_a_symlinked_one_is_not_used(cache_home, base_copy, tmp_path,
                                                                                            full_loads):
    load_rulebase(base_dir=base_copy)
    cache_home.chmod(0o777)
    load_rulebase(base_dir=base_copy)
    assert stat.S_IMODE(cache_home.stat().st_mode) == 0o700
    elsewhere = tmp_path / "elsewhere"
    shutil.move(cache_home, elsewhere)
    cache_home.symlink_to(elsewhere, target_is_directory=True)
    before = len(full_loads)
    load_rulebase(base_dir=base_copy)
    load_rulebase(base_dir=base_copy)
    assert len(full_loads) == before + 2, "a symlinked cache directory is never read"


def test_no_cache_when_asked_or_when_it_cannot_be_written(tmp_path, monkeypatch, base_copy, full_loads):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    load_rulebase(base_dir=base_copy)
    load_rulebase(base_dir=base_copy)
    assert len(full_loads) == 2
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    load_rulebase(base_dir=base_copy, cache=False)
    assert not home.exists()


def test_a_relative_xdg_cache_home_is_ignored():
    assert rulecache.cache_dir({"XDG_CACHE_HOME": "relative/path"}).is_absolute()
    assert rulecache.cache_dir({"XDG_CACHE_HOME": "/x"}) == rulecache.Path("/x/framework-advisor")


def test_a_load_error_is_never_cached(cache_home, base_copy):
    (base_copy / "bad.yaml").write_text("rules: [\n")
    for _ in range(2):
        with pytest.raises(rulebase_module.RuleFileError, match="bad.yaml:2:1"):
            load_rulebase(base_dir=base_copy)
    assert not _entries(cache_home)
