"""Which layer imports which: the config layer knows no provider."""

from __future__ import annotations

import subprocess
import sys


def test_the_config_package_imports_no_provider():
    # A fresh interpreter: in this one, other tests have imported everything already.
    code = (
        "import sys, gateway.config\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('gateway.providers'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == ""
