from __future__ import annotations

import evidencekit


def test_exported_members() -> None:
    public = sorted(name for name in dir(evidencekit)
                    if not name.startswith("_") and name != "annotations"
                    and not isinstance(getattr(evidencekit, name), type(evidencekit)))
    assert sorted(n for n in evidencekit.__all__ if n != "__version__") == public
