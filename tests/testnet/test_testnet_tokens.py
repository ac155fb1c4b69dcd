"""A testnet off loopback (network namespaces, Docker Compose) gets an admin API token."""

from __future__ import annotations

from pathlib import Path

from node.api import API_TOKENS_FILE, load_tokens
from testnet._init import api_headers, init_testnet


def test_off_loopback_every_node_shares_one_admin_token(tmp_path: Path) -> None:
    manifest = init_testnet(tmp_path / "net", validators=2, hosts=["10.9.0.2", "10.9.0.3"])
    token = manifest["api_token"]
    assert api_headers(manifest) == {"Authorization": f"Bearer {token}"}
    for node in manifest["nodes"]:
        path = Path(node["home"]) / API_TOKENS_FILE
        assert token not in path.read_text()
        book = load_tokens(path)  # mode 0600, valid
        assert book is not None
        found, _ = book.authenticate(token)
        assert found is not None
        assert found.scopes == {"admin"}


def test_on_loopback_no_token_is_made(tmp_path: Path) -> None:
    manifest = init_testnet(tmp_path / "net", validators=1)
    assert "api_token" not in manifest
    assert api_headers(manifest) == {}
    assert not (Path(manifest["nodes"][0]["home"]) / API_TOKENS_FILE).exists()
