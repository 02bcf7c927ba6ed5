"""The run folder's layout is written once (RunFiles) and every file in it is written whole."""

import pytest

from {{ cookiecutter.package_name }}.rundir import RUN_FILES, RunFiles, write_whole, writing_whole, writing_whole_folder


def test_the_layout_names_each_entry_once():
    names = [value for name, value in vars(RunFiles).items() if name.isupper()]
    assert len(names) == len(set(names))
    assert len(RUN_FILES) == len(set(RUN_FILES)) and "verdicts.json" in RUN_FILES and "checkpoints" in RUN_FILES
    assert all("/" not in name for name in RUN_FILES)  # the top level only


def test_a_write_that_fails_leaves_the_old_file_and_no_partial_one(tmp_path):
    path = tmp_path / "record.json"
    write_whole(path, "old")
    with pytest.raises(RuntimeError), writing_whole(path) as partial:
        partial.write_text("half of the ne")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]
    write_whole(path, "new")
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_a_folder_is_swapped_in_whole_or_not_at_all(tmp_path):
    path = tmp_path / "export"
    with writing_whole_folder(path) as partial:
        partial.mkdir()
        (partial / "saved_model.pb").write_text("first")
    with pytest.raises(RuntimeError), writing_whole_folder(path) as partial:
        partial.mkdir()
        (partial / "saved_model.pb").write_text("half")
        raise RuntimeError("killed mid-export")
    assert (path / "saved_model.pb").read_text() == "first"
    with writing_whole_folder(path) as partial:
        partial.mkdir()
        (partial / "saved_model.pb").write_text("second")
    assert (path / "saved_model.pb").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
