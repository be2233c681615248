"""The portal speaks zh-Hans first: every string has a Chinese translation that keeps its placeholders."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture(scope="module")
def catalogue() -> Catalog:
    with CATALOGUE.open("rb") as file:
        return read_po(file)


def texts(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A message's singular and plural forms, or its one form."""
    if value is None:
        return ("",)
    return (value,) if isinstance(value, str) else tuple(value)


def messages(catalogue: Catalog) -> list[Message]:
    return [message for message in catalogue if message.id]


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    assert len(messages(catalogue)) > 50
    assert [m.id for m in messages(catalogue) if not all(texts(m.string))] == []
    assert [m.id for m in messages(catalogue) if m.fuzzy] == []


def test_placeholders_survive_translation(catalogue):
    for message in messages(catalogue):
        expected = {found for text in texts(message.id) for found in PLACEHOLDER.findall(text)}
        for text in texts(message.string):
            assert set(PLACEHOLDER.findall(text)) == expected, message.id


def test_every_choice_label_and_category_definition_is_in_the_catalogue(catalogue):
    """Vocabularies reach people in the portal and the admin: each needs its Chinese."""
    from django.db import models
    from django.utils import translation

    from accounts import choices as account_choices
    from sharing import choices as sharing_choices

    known = {message.id for message in messages(catalogue)}
    vocabularies = [
        value
        for module in (account_choices, sharing_choices)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, models.Choices) and value.__module__ == module.__name__
    ]
    with translation.override("en"):
        labels = {str(label) for vocabulary in vocabularies for label in vocabulary.labels}
        labels |= {str(definition) for definition in sharing_choices.DEFINITIONS.values()}
    assert len(labels) > 60
    assert sorted(labels - known - {"CSV", "JSON Lines", "XLSX"}) == []


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="extracting messages needs GNU gettext (CI has it)")
def test_the_catalogue_holds_exactly_the_strings_of_the_code_and_templates(catalogue, tmp_path):
    """What `make messages` would extract from the code and templates is what the catalogue translates:
    no string shown untranslated, none translated that nothing shows."""
    root = CATALOGUE.parents[3]
    for name in ("accounts", "sharing", "portal", "memberkit", "config", "manage.py"):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES").mkdir(parents=True)
    command = [sys.executable, "manage.py", "makemessages", "--locale", "zh_Hans", "--no-location", "--verbosity", "0"]
    subprocess.run(command, cwd=tmp_path, check=True, env={**os.environ, "RISKSHARE_VAR_DIR": str(tmp_path / "var")})  # noqa: S603
    with (tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").open("rb") as file:
        extracted = {
            (message.context, message.id if isinstance(message.id, str) else message.id[0])
            for message in messages(read_po(file))
        }
    translated = {
        (message.context, message.id if isinstance(message.id, str) else message.id[0])
        for message in messages(catalogue)
    }

    assert sorted(extracted - translated, key=str) == []  # shown, not translated
    assert sorted(translated - extracted, key=str) == []  # translated, shown nowhere
