"""meson.build installs the package's Python files by name: every file of
hologram/ must be listed there, or an installed build (scripts/setup-venv.sh,
a wheel) lacks it while an in-tree run still finds it."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_meson_installs_every_package_file():
    listed = set(
        re.findall(
            r"'(hologram/[^']+\.pyi?|hologram/py\.typed)'", (ROOT / "meson.build").read_text()
        )
    )
    on_disk = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "hologram").rglob("*")
        if p.is_file() and (p.suffix in (".py", ".pyi") or p.name == "py.typed")
    }
    assert on_disk, "no package files found"
    assert on_disk - listed == set(), f"not installed by meson.build: {sorted(on_disk - listed)}"
    assert listed - on_disk == set(), f"listed but missing: {sorted(listed - on_disk)}"
