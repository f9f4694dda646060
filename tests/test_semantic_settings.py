"""The semantic cache's settings: checked at start, each problem named by where it came from."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, parse_settings

pytestmark = pytest.mark.unit

TARGET = '{"provider": "openai", "api_key": "sk-secret-123", "model": "text-embedding-3-small"}'


def test_the_defaults_and_a_good_target():
    settings = parse_settings(["--semantic-cache-embeddings", TARGET], {})
    assert settings.semantic_cache_embeddings == TARGET
    assert (settings.semantic_cache_timeout, settings.semantic_cache_threshold) == (2.0, 0.95)
    assert (settings.semantic_cache_per_bucket, settings.semantic_cache_vectors_size) == (64, 64 * 1024 * 1024)
    assert parse_settings([], {}).semantic_cache_embeddings is None


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("GATEWAY_SEMANTIC_CACHE_EMBEDDINGS", '{"provider": "openai", "api_key": "sk-secret-123"}', "model: required"),
        ("GATEWAY_SEMANTIC_CACHE_EMBEDDINGS", "{nope", "not a JSON object"),
        ("GATEWAY_SEMANTIC_CACHE_THRESHOLD", "1.5", "must be a cosine similarity above 0 and at most 1"),
        ("GATEWAY_SEMANTIC_CACHE_THRESHOLD", "0", "must be a cosine similarity above 0 and at most 1"),
        ("GATEWAY_SEMANTIC_CACHE_TIMEOUT", "0", "must be positive"),
        ("GATEWAY_SEMANTIC_CACHE_PER_BUCKET", "0", "must be at least 1"),
        ("GATEWAY_SEMANTIC_CACHE_VECTORS_SIZE", "lots", "not a size"),
    ],
)
def test_a_bad_value_names_its_variable_and_never_the_key(name, value, problem):
    with pytest.raises(SettingsError) as raised:
        parse_settings([], {name: value})
    message = str(raised.value)
    assert message.startswith(f"{name}: ") and problem in message
    assert "sk-secret-123" not in message


def test_without_numpy_the_setting_says_which_extra_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_numpy(name, *args, **kwargs):
        if name == "numpy":
            raise ImportError("No module named 'numpy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    with pytest.raises(SettingsError, match=r"needs numpy: pip install 'portkey-compatible-gateway\[semantic\]'"):
        parse_settings(["--semantic-cache-embeddings", TARGET], {})
