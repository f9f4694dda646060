"""Which layer imports which: the config layer knows no provider."""

from __future__ import annotations

import subprocess
import sys


def _modules_loaded_by(code: str) -> list[str]:
    # A fresh interpreter: in this one, other tests have imported everything already.
    code += "\nprint(','.join(sorted(m for m in sys.modules if m.startswith('gateway.providers'))))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


def test_the_config_package_imports_no_provider():
    assert _modules_loaded_by("import sys, gateway.config") == []


def test_refusing_an_unsupported_provider_imports_no_provider():
    # The 400 for a provider Portkey knows and this gateway does not serve says why,
    # from a table that lives beside config and providers, not inside providers.
    code = (
        "import sys\n"
        "from multidict import CIMultiDict, CIMultiDictProxy\n"
        "from gateway.config import build_route\n"
        "from gateway.custom_host import HostAllowList\n"
        "from gateway.errors import BadRequest\n"
        "headers = CIMultiDictProxy(CIMultiDict({'x-portkey-provider': 'palm'}))\n"
        "try:\n"
        "    build_route(headers, HostAllowList(), providers={})\n"
        "except BadRequest as error:\n"
        "    assert 'retired' in error.message, error.message\n"
        "else:\n"
        "    raise AssertionError('palm was accepted')\n"
    )
    assert _modules_loaded_by(code) == []
