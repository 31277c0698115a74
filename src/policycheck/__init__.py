"""policycheck: the CMA's AI Foundation Models report (chapter 3) as executable, tested rules.

Load a case and the bundled rules, then assess::

    from policycheck import assess, load_case, load_rules
    result = assess([load_case("cases/licences/llama-2.yaml")], load_rules())
    print(result.cases[0].summary)
"""

from __future__ import annotations

__version__ = "0.1.0"

from policycheck.api import Assessment, PolicycheckError, assess, load_case, load_case_text, load_rules  # noqa: E402

__all__ = ["Assessment", "PolicycheckError", "__version__", "assess", "load_case", "load_case_text", "load_rules"]
