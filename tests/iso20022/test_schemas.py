"""The vendored ISO 20022 XSDs: each loads, has the namespace its version names, and an
altered file is refused before it is used."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from node.iso20022 import SCHEMAS, SchemaFileError, _schemas, namespace, schema


@pytest.mark.parametrize("message", sorted(SCHEMAS))
def test_each_schema_loads_with_the_namespace_of_its_version(message: str) -> None:
    loaded = schema(message)
    assert loaded.target_namespace == namespace(message)
    assert namespace(message).endswith(":" + message)
    assert "Document" in {name.rsplit("}", 1)[-1] for name in loaded.elements}


def test_the_recorded_digests_are_those_of_the_files() -> None:
    folder = resources.files("node.iso20022").joinpath("xsd")
    for entry in SCHEMAS.values():
        data = folder.joinpath(entry.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.file


def test_an_altered_schema_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = next(iter(SCHEMAS))
    entry = SCHEMAS[message]
    monkeypatch.setitem(_schemas.SCHEMAS, message, _schemas.SchemaFile(entry.file, "0" * 64))
    _schemas.schema.cache_clear()
    try:
        with pytest.raises(SchemaFileError, match="SHA-256"):
            schema(message)
    finally:
        _schemas.schema.cache_clear()


def test_an_unknown_version_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        schema("pacs.008.001.99")
