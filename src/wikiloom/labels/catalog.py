"""The catalog of forms a deployment offers: the built-in ones and a configured directory."""

from __future__ import annotations

from pathlib import Path

from wikiloom.labels.forms import Form, builtin_forms_dir, load_forms


def load_catalog(extra_dir: Path | None = None) -> dict[str, Form]:
    """Load the built-in forms, then those of `extra_dir`, which win on a name clash."""
    forms = load_forms(builtin_forms_dir(), builtin_forms_dir() / "i18n")
    if extra_dir is not None:
        forms.update(load_forms(extra_dir, extra_dir / "i18n"))
    return dict(sorted(forms.items()))
