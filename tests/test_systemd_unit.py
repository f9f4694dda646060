"""The shipped systemd unit parses cleanly, and starts without the optional files.

``systemd-analyze verify`` runs on the unit as shipped, with only ExecStart pointed at
this virtualenv's ``gateway`` (verify checks that it is executable). A setting systemd
cannot parse is only a warning on stderr ("Invalid syntax, ignoring"), so stderr must
be empty. Skipped where systemd-analyze is not installed (Debian package ``systemd``).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from gateway.settings import parse_settings
from tests.readme import REPO, literal_blocks

UNIT = REPO / "systemd" / "gateway.service"
ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)")
async def test_unit_verifies_without_a_warning(tmp_path):
    gateway = Path(sys.executable).parent / "gateway"
    unit = tmp_path / "ai-gateway.service"
    unit.write_text(UNIT.read_text().replace("ExecStart=/opt/ai-gateway/.venv/bin/gateway", f"ExecStart={gateway}"))
    process = await asyncio.create_subprocess_exec(
        ANALYZE, "verify", str(unit), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and err.decode() == "", err.decode()


def test_optional_files_do_not_fail_the_unit():
    lines = UNIT.read_text().splitlines()
    # "-": a missing environment file is skipped.
    assert "EnvironmentFile=-/etc/ai-gateway/env" in lines
    # A LoadCredential= whose file is missing fails the unit unless a SetCredential= of
    # the same name stands in for it (systemd.exec(5)).
    loaded = {line.split("=", 1)[1].split(":", 1)[0] for line in lines if line.startswith("LoadCredential=")}
    defaults = {line.split("=", 1)[1].split(":", 1)[0] for line in lines if line.startswith("SetCredential=")}
    assert loaded and loaded <= defaults


def test_documented_example_environment_file_holds_valid_settings():
    [example] = literal_blocks((REPO / "docs" / "operations.rst").read_text(), "Settings, keys and the environment file")
    environ = {}
    for line in example.splitlines():
        name, _, value = line.lstrip("#").partition("=")
        # Commented-out settings must be valid too once uncommented; the keys file
        # exists only on the host (systemd's credentials directory).
        if name.startswith("GATEWAY_") and name != "GATEWAY_API_KEYS_FILE":
            environ[name] = value
    assert "GATEWAY_TRUSTED_PROXIES" in environ
    settings = parse_settings([], environ)
    assert settings.trusted_proxies.trusts("::1") and settings.workers == 4
