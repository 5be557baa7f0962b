"""README.md's policy reference is generated from the models and stays in sync with them.

Run this file (`make reference`) to rewrite the reference in README.md.
"""

import sys
from pathlib import Path

from controllers.settings.reference import (
    BEGIN,
    END,
    check_policy_model_documented,
    policy_reference,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_reference(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def test_readme_holds_the_generated_reference() -> None:
    """The text between the markers is what the models say now (run `make reference`)."""
    assert readme_reference(README.read_text(encoding="utf-8")) == policy_reference()


def test_every_policy_key_is_described() -> None:
    """No field of the policy models lacks the description the reference prints."""
    assert check_policy_model_documented() == []


def test_every_section_of_the_shipped_policy_is_in_the_reference() -> None:
    """Each top-level key of config/policy.yaml has its table."""
    import yaml

    shipped = yaml.safe_load((README.parent / "config" / "policy.yaml").read_text())
    reference = policy_reference()
    for section in shipped:
        name = "groups.NAME" if section == "groups" else section
        assert f"**`{name}`**" in reference, section


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    README.write_text(text.replace(readme_reference(text), policy_reference()), encoding="utf-8")
    sys.exit(0)
