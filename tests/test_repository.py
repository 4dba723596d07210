"""The repository as GitHub, hassfest's action and HACS see it.

One address for the project everywhere (docs/publishing.md lists where it is written),
one manifest.json for hassfest's action, and the release zip HACS installs.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from .translation_scan import SOURCE

ROOT = SOURCE.parent.parent
MANIFEST = json.loads((SOURCE / "manifest.json").read_text())
ADDRESS = MANIFEST["documentation"]
_ADDRESS_PARTS = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", ADDRESS)
assert _ADDRESS_PARTS, ADDRESS
OWNER, NAME = _ADDRESS_PARTS.groups()
# github.com/<owner>/<name> and raw.githubusercontent.com/<owner>/<name>, in any text.
GITHUB_ADDRESS = re.compile(
    r"(?:github\.com|githubusercontent\.com)/([\w.-]+)/([\w.-]+?)"
    r"(?=[/\s\"'`)>#]|\.git|\.(?:\s|$)|$)"
)


def _tracked_text_files() -> dict[str, str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    texts = {}
    for name in filter(None, names.split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            texts[name] = path.read_text()
        except UnicodeDecodeError:
            continue
    return texts


def _ours(part: str, expected: str) -> bool:
    return part.lower().replace("_", "-") == expected.lower().replace("_", "-")


def test_the_manifest_names_the_repository() -> None:
    """The issue tracker is the repository's, the code owner its owner."""
    assert MANIFEST["issue_tracker"] == f"{ADDRESS}/issues"
    assert MANIFEST["codeowners"] == [f"@{OWNER}"]


def test_the_readme_names_the_repository() -> None:
    """HACS's custom repository and the header's icon use the manifest's address."""
    readme = (ROOT / "README.md").read_text()
    assert f"`{ADDRESS}`" in readme
    raw = f"https://raw.githubusercontent.com/{OWNER}/{NAME}/main/"
    header = readme.split("\n# ", 1)[0]
    assert f'src="{raw}custom_components/ttn_mqtt/brand/icon.png"' in header


def test_no_file_names_another_address_of_ours() -> None:
    """A GitHub address with our owner or our name is the manifest's, in every file.

    A repository that moved with one place left behind fails here.
    """
    texts = _tracked_text_files()
    wrong = {
        f"{name}: {owner}/{repo}"
        for name, text in texts.items()
        for owner, repo in GITHUB_ADDRESS.findall(text)
        if (_ours(owner, OWNER) or _ours(repo, NAME)) and (owner, repo) != (OWNER, NAME)
    }
    assert wrong == set()


def test_publishing_lists_every_file_with_the_address() -> None:
    """docs/publishing.md names each file that holds the address or the owner."""
    texts = _tracked_text_files()
    holders = {
        name
        for name, text in texts.items()
        if f"github.com/{OWNER}/{NAME}" in text
        or f"githubusercontent.com/{OWNER}/{NAME}" in text
        or f'"@{OWNER}"' in text
    }
    assert "custom_components/ttn_mqtt/manifest.json" in holders
    publishing = (ROOT / "docs" / "publishing.md").read_text()
    section = publishing.split("## The repository's address", 1)[1]
    assert {name for name in holders if f"`{name}`" not in section} == set()
    assert f"`{ADDRESS}`" in section
    assert f"`@{OWNER}`" in section


def test_hassfest_finds_one_manifest() -> None:
    """The hassfest action validates every manifest.json in the repository: ours only."""
    manifests = [
        name for name in _tracked_text_files() if Path(name).name == "manifest.json"
    ]
    assert manifests == ["custom_components/ttn_mqtt/manifest.json"]


def test_workflows_run_the_official_checks() -> None:
    """validate.yml runs hassfest's and HACS's actions and the test command."""
    validate = (ROOT / ".github" / "workflows" / "validate.yml").read_text()
    assert "uses: home-assistant/actions/hassfest@master" in validate
    assert "uses: hacs/action@main" in validate
    assert "category: integration" in validate
    assert "scripts/test --ha ${{ matrix.ha }}" in validate
    assert {"ha: oldest", "ha: current"} <= set(re.findall(r"ha: \w+", validate))
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["zip_release"] is True
    assert f"dist/{hacs['filename']}" in release
    assert "scripts/release_zip.py --tag" in release


def test_release_zip_holds_the_integration(tmp_path: Path) -> None:
    """The zip HACS unpacks into custom_components/ttn_mqtt: our files at its root."""
    _tracked_text_files()
    output = tmp_path / "ttn_mqtt.zip"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "release_zip.py"),
            "--tag",
            f"v{MANIFEST['version']}",
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    with zipfile.ZipFile(output) as archive:
        names = set(archive.namelist())
        assert json.loads(archive.read("manifest.json")) == MANIFEST
    assert {
        "__init__.py",
        "config_flow.py",
        "protocol/session.py",
        "translations/en.json",
        "services.yaml",
        "brand/icon.png",
        "quality_scale.yaml",
    } <= names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_release_zip_refuses_a_tag_that_is_not_the_version(tmp_path: Path) -> None:
    """A release tagged with another version gets no zip."""
    _tracked_text_files()
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "release_zip.py"),
            "--tag",
            "v999.0.0",
            "--output",
            str(tmp_path / "ttn_mqtt.zip"),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "not manifest.json's version" in result.stderr
    assert not (tmp_path / "ttn_mqtt.zip").exists()
