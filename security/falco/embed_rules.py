"""Copy rules/wordmix_rules.yaml into the customRules block at the end of values.yaml.

The rules file is the one source; values.yaml carries a copy so that a plain
`helm upgrade --install falco falcosecurity/falco -f security/falco/values.yaml` installs them.
tests/security/test_falco.py fails when the copy and the source differ.

Usage: python security/falco/embed_rules.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VALUES = HERE / "values.yaml"
RULES = HERE / "rules" / "wordmix_rules.yaml"
RULES_KEY = "wordmix_rules.yaml"
# Everything from this line on is generated; it must stay the last top-level key of values.yaml.
MARKER = "customRules:\n"


def embedded_values(values_text: str, rules_text: str) -> str:
    """Return values_text with its customRules block replaced by rules_text."""
    head, found, _ = values_text.partition(MARKER)
    if not found:
        raise ValueError(f"{VALUES.name} has no top-level line {MARKER.strip()!r}")
    body = "".join(
        f"    {line}" if line.strip() else "\n" for line in rules_text.splitlines(keepends=True)
    )
    return f"{head}{MARKER}  {RULES_KEY}: |-\n{body}"


def main() -> int:
    new = embedded_values(VALUES.read_text(), RULES.read_text())
    if new != VALUES.read_text():
        VALUES.write_text(new)
        print(f"updated {VALUES}")
    else:
        print(f"{VALUES} already carries the current rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
