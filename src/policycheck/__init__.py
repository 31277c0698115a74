"""policycheck: the CMA's AI Foundation Models report (chapter 3) as executable, tested rules.

Load a case and the bundled rules, then assess::

    from policycheck import assess, load_case, load_rules
    result = assess([load_case("cases/licences/llama-2.yaml")], load_rules())
    print(result.cases[0].summary)
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any  # noqa: E402

__all__ = ["Assessment", "PolicycheckError", "__version__", "assess", "load_case", "load_case_text", "load_rules"]

if TYPE_CHECKING:  # pragma: no cover
    from policycheck.api import Assessment, PolicycheckError, assess, load_case, load_case_text, load_rules


def __getattr__(name: str) -> Any:
    """Import the library on first use, so `policycheck --help` starts fast."""
    if name in __all__:
        from policycheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'policycheck' has no attribute {name!r}")
