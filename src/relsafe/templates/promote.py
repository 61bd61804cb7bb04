"""Hand the publish job exactly the files the release tag's manifest names, checking each sha256.

The publish workflow's preparing job runs this with TAG, COMMIT and DIST in
its environment. With STAGING_INDEX_URL it downloads the files from the
staging index into the empty DIST; without it (a release without staging) it
checks the files the rebuild job handed on, downloaded into DIST by a job of
its own that runs nothing of the project. Anything but the tested bytes (a
file swapped on the index or rebuilt differently, one missing, one extra, a
tag without the manifest, or on another commit than the one its manifest says
the files were built from) fails the job, so the publish job never runs.
Standard library only: it runs on a bare runner.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NoReturn

MARKER = "relsafe-manifest: 1"
ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


def fail(message: str) -> NoReturn:
    print(f"::error::{message}")
    sys.exit(1)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def manifest(tag: str, commit: str) -> tuple[dict[str, str], str]:
    ref = f"refs/tags/{tag}"
    if git("cat-file", "-t", ref).strip() != "tag":
        fail(f"{tag} is not an annotated tag, so it carries no manifest of tested files")
    tagged = git("rev-parse", f"{ref}^{{commit}}").strip()
    if tagged != commit:
        fail(f"{tag} does not point at {commit}, the commit this run was started for")
    lines = git("for-each-ref", "--format=%(contents)", ref).splitlines()
    if MARKER not in lines:
        fail(f"the message of {tag} has no '{MARKER}' block: it was not made by relsafe")
    files: dict[str, str] = {}
    staging = built_from = ""
    for line in lines[lines.index(MARKER) + 1 :]:
        file_line = re.fullmatch(r"([0-9a-f]{64})  ([^\s/\\]+)", line)
        if file_line and file_line[2] in files:
            fail(f"the manifest names {file_line[2]} twice")
        if file_line:
            files[file_line[2]] = file_line[1]
        elif line.startswith("commit: "):
            if built_from:
                fail("the manifest names the commit its files were built from twice")
            built_from = line.removeprefix("commit: ")
        elif line.startswith("staging-index: "):
            staging = line.removeprefix("staging-index: ")
        elif not line.startswith("build-requires: "):  # the rebuild's pins, read by the step before
            break
    if not files:
        fail("the manifest names no file")
    if not built_from:
        fail(f"the manifest of {tag} does not name the commit its files were built from, so they may be another's")
    if built_from != tagged:
        fail(f"{tag} points at {tagged}, but its manifest says the files were built from {built_from}")
    return files, staging


def name_and_version(file_name: str) -> tuple[str, str]:
    """The normalised project name and the version a wheel or sdist file name gives."""
    if file_name.endswith(".whl"):
        name, _, rest = file_name.partition("-")
        version = rest.partition("-")[0]
    else:
        name, _, version = file_name.removesuffix(".tar.gz").removesuffix(".zip").rpartition("-")
    return re.sub(r"[-_.]+", "-", name).lower(), version


def links(page_url: str) -> dict[str, str]:
    """file name → download URL, from the project's page of a simple index (PEP 691 JSON or PEP 503 HTML)."""
    request = urllib.request.Request(page_url, headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        kind = response.headers.get("Content-Type", "")
        body = response.read().decode("utf-8")
    if "json" in kind:
        return {entry["filename"]: urllib.parse.urljoin(page_url, entry["url"]) for entry in json.loads(body)["files"]}
    found: dict[str, str] = {}
    for href in re.findall(r"""<a\s[^>]*href=["']([^"']+)["']""", body, flags=re.IGNORECASE):
        url = urllib.parse.urljoin(page_url, href.replace("&amp;", "&"))
        found[urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])] = url
    return found


def download(url: str, target: Path) -> str:
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=300) as response, target.open("wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def main() -> None:
    tag, commit = os.environ["TAG"], os.environ["COMMIT"]
    dist = Path(os.environ["DIST"])
    files, staging = manifest(tag, commit)
    if os.environ.get("STAGING_INDEX_URL"):
        download_staged(files, staging, os.environ["STAGING_INDEX_URL"].rstrip("/") + "/", dist)
    else:
        check_rebuilt(files, dist)
    extra = sorted({path.name for path in dist.iterdir()} - set(files))
    if extra:
        fail(f"{dist} holds files the manifest does not name: {', '.join(extra)}")
    print(f"{len(files)} file(s) are exactly the tested ones; they, and nothing else, go to the publish job")


def download_staged(files: dict[str, str], staging: str, index: str, dist: Path) -> None:
    if staging.rstrip("/") + "/" != index:
        fail(f"the tag's files were verified on {staging or 'no staging index'}, not on {index}")
    dist.mkdir(parents=True, exist_ok=True)
    if any(dist.iterdir()):
        fail(f"{dist} is not empty")
    project, version = name_and_version(sorted(files)[0])
    available = links(f"{index}{project}/")
    unnamed = sorted(name for name in available if name_and_version(name)[1] == version and name not in files)
    if unnamed:
        fail(f"the staging index holds {', '.join(unnamed)} for {version}, which the tag's manifest does not name")
    for name, expected in sorted(files.items()):
        if name not in available:
            fail(f"{name} is not on the staging index {index}")
        actual = download(available[name], dist / name)
        if actual != expected:
            fail(f"{name} on the staging index is not the tested file: sha256 {actual}, the tag says {expected}")
        print(f"{expected}  {name}")


def check_rebuilt(files: dict[str, str], dist: Path) -> None:
    for name, expected in sorted(files.items()):
        path = dist / name
        if not path.is_file():
            fail(f"the rebuild made no {name}")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            fail(f"the rebuilt {name} is not the tested file: sha256 {actual}, the tag says {expected}")
        print(f"{expected}  {name}")


main()
