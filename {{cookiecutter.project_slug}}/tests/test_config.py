import difflib
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import Config, Section, documented_yaml, load_config
from {{ cookiecutter.package_name }}.errors import UserError

PROJECT = Path(__file__).resolve().parents[1]


def test_default_yaml_spells_out_the_builtin_defaults():
    assert load_config(PROJECT / "configs" / "default.yaml") == Config()


def test_default_yaml_is_the_fields_descriptions_word_for_word():
    """The settings are documented once, in config.py; the file is their rendering. To update it:
    python -m {{ cookiecutter.package_name }}.config > configs/default.yaml"""
    written = (PROJECT / "configs" / "default.yaml").read_text()
    wanted = documented_yaml()
    assert written == wanted, "".join(difflib.unified_diff(written.splitlines(True), wanted.splitlines(True),
                                                           "configs/default.yaml", "documented_yaml()"))


def sections(model: type[Section] = Config, prefix: str = ""):
    yield prefix or "(top level)", model
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section):
            yield from sections(field.annotation, f"{prefix}{name}.")


def test_every_setting_says_what_it_does():
    for where, section in sections():
        assert section.__doc__, where
        for name, field in section.model_fields.items():
            assert field.description and len(field.description.split()) >= 2, f"{where}{name} has no description"


@pytest.mark.parametrize("name", ["debug.yaml"])
def test_presets_are_valid(name):
    load_config(PROJECT / "configs" / name)


def test_overrides_parse_values_as_yaml():
    config = load_config(None, ["train.learning_rate=1e-3", "data.cache=false", "tune.hidden_units=[8, 16]"])
    assert config.train.learning_rate == 1e-3
    assert config.data.cache == "off"  # YAML false, taken as the earlier boolean meant
    assert config.tune.hidden_units == [8, 16]


def test_unknown_key_names_the_key_and_the_valid_ones():
    with pytest.raises(UserError) as err:
        load_config(None, ["train.epoch=3"])
    message = str(err.value)
    assert "train.epoch" in message
    assert "did you mean 'epochs'?" in message and "learning_rate" in message
    assert "with --set train.epoch=3" in message  # the typo is in the override, not in a file


def test_wrong_type_names_the_key():
    with pytest.raises(UserError, match="data.batch_size"):
        load_config(None, ["data.batch_size=many"])


def test_bad_split_is_refused():
    with pytest.raises(UserError, match="data.split"):
        load_config(None, ["data.split=[0.5, 0.5, 0.5]"])


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.yaml")
