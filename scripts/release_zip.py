#!/usr/bin/env python3
"""Build the zip HACS installs: custom_components/ttn_mqtt's tracked files at its root.

hacs.json has `zip_release` and `filename`: HACS downloads that asset of a GitHub
release and unpacks it into the user's custom_components/ttn_mqtt. The release workflow
(.github/workflows/release.yml) runs this with the release's tag, which must be the
manifest's version (`v` in front or not), so that what HACS offers is what it installs.

    scripts/release_zip.py [--tag v0.2.0] [--output dist/ttn_mqtt.zip]

Standard library only: the workflow runs it without the test environment.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import subprocess
import sys
import zipfile

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "ttn_mqtt"
# A fixed time for every entry: the same tree gives the same zip.
TIMESTAMP = (2025, 1, 1, 0, 0, 0)


def tracked_files() -> list[Path]:
    """Return the integration's files in git (no caches, nothing left by a run)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", str(INTEGRATION)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(ROOT / name for name in listed.split("\0") if name)


def build(output: Path, tag: str | None = None) -> list[str]:
    """Write the zip; return its entries. A tag must match the manifest's version."""
    version = json.loads((INTEGRATION / "manifest.json").read_text())["version"]
    if tag is not None and tag.removeprefix("v") != version:
        raise SystemExit(
            f"The tag {tag} is not manifest.json's version {version}: "
            "set the version in manifest.json first."
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zip_:
        for path in tracked_files():
            name = path.relative_to(INTEGRATION).as_posix()
            info = zipfile.ZipInfo(name, TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zip_.writestr(info, path.read_bytes())
            names.append(name)
    return names


def main() -> None:
    """Build the zip from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", help="the release's tag, checked against the version")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "dist" / "ttn_mqtt.zip",
        help="where to write it (dist/ttn_mqtt.zip)",
    )
    args = parser.parse_args()
    names = build(args.output, args.tag)
    print(f"{args.output}: {len(names)} files, {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    sys.exit(main())
