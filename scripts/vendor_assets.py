#!/usr/bin/env python3
"""Copy the front-end files Folium needs into web/static/vendor/ (git-ignored).

Sources: npm packages pinned in web/assets/package-lock.json, files shipped in
the installed folium wheel, and two small generated stylesheets. CSS url()
dependencies (fonts, images) are followed and copied too; CDN URLs inside CSS
are rewritten to the local copies.

Idempotent: if the manifest in web/static/vendor matches the lock file, this
script, the asset table and the folium version, and every file is present, it
exits at once. Run it with the project's Python (the one with folium installed).

    python scripts/vendor_assets.py [--force | --check]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_offline():
    """Load web/offline.py on its own (stdlib only), without the Flask app package."""
    spec = importlib.util.spec_from_file_location("gridgis_offline", ROOT / "web" / "offline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_offline = _load_offline()
ASSETS, MANIFEST_NAME, VENDOR_DIR = _offline.ASSETS, _offline.MANIFEST_NAME, _offline.VENDOR_DIR
is_external, resolve_url = _offline.is_external, _offline.resolve_url

ASSETS_DIR = ROOT / "web" / "assets"
NODE_MODULES = ASSETS_DIR / "node_modules"
LOCK_FILE = ASSETS_DIR / "package-lock.json"

# Needed at run time but referenced by no CSS: Leaflet's JS derives these from marker-icon.png.
EXTRA_FILES = ["leaflet/dist/images/marker-icon-2x.png", "leaflet/dist/images/marker-shadow.png"]

CSS_REF = re.compile(r"""url\(\s*(["']?)([^"')]*)\1\s*\)|@import\s+(["'])([^"']*)\3""")


class VendorError(Exception):
    pass


def rotate_css() -> bytes:
    """Classes for folium.Icon(angle=...), which adds 'fa-rotate-<angle>'."""
    return "".join(
        f".fa-rotate-{a}{{-webkit-transform:rotate({a}deg);transform:rotate({a}deg)}}\n"
        for a in range(360)
    ).encode()


def glyphicons_css() -> bytes:
    """Only the Glyphicons rules of Bootstrap 3 (its full CSS would clash with Bootstrap 5)."""
    css = (NODE_MODULES / "bootstrap3/dist/css/bootstrap.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for m in re.finditer(r"([^{}]+)\{([^{}]*)\}", css):
        selectors = [s.strip() for s in m.group(1).split(",")]
        body = m.group(2)
        if selectors == ["@font-face"] and "Glyphicons Halflings" in body:
            rules.append(m.group(0).strip())
        elif all(s.startswith(".glyphicon") for s in selectors):
            rules.append(m.group(0).strip())
    if not any(r.startswith(".glyphicon-info-sign") for r in rules):
        raise VendorError("could not extract glyphicons from bootstrap3/dist/css/bootstrap.css")
    return ("\n".join(rules) + "\n").encode()


GENERATED = {
    "folium/leaflet.awesome.rotate.min.css": rotate_css,
    "bootstrap3/dist/css/bootstrap-glyphicons.css": glyphicons_css,
}


def folium_templates() -> Path:
    """folium/templates of the installed wheel (found without importing folium)."""
    spec = importlib.util.find_spec("folium")
    if spec is None or spec.origin is None:
        raise VendorError("folium is not installed in this Python environment")
    return Path(spec.origin).resolve().parent / "templates"


def load(rel: str) -> bytes:
    if rel in GENERATED:
        return GENERATED[rel]()
    src = folium_templates() / rel[len("folium/"):] if rel.startswith("folium/") else NODE_MODULES / rel
    if not src.is_file():
        raise VendorError(f"missing source for {rel}: {src}")
    return src.read_bytes()


def localize_css(rel: str, data: bytes) -> tuple[bytes, list[str]]:
    """Rewrite CDN url()s to relative local paths; return the local files the CSS needs."""
    here = posixpath.dirname(rel)
    deps: list[str] = []

    def ref(m: re.Match) -> str:
        url = m.group(2) if m.group(2) is not None else m.group(4)
        if not url or url.startswith(("data:", "#")):
            return m.group(0)
        path, sep, suffix = re.match(r"([^?#]*)([?#]?)(.*)", url).groups()
        if is_external(url):
            target = resolve_url(path)
            if target is None:
                raise VendorError(f"{rel} references {url}, which has no local copy")
            deps.append(target)
            local = posixpath.relpath(target, here) + sep + suffix
            return m.group(0).replace(url, local)
        target = posixpath.normpath(posixpath.join(here, path))
        if target.startswith(".."):
            raise VendorError(f"{rel} references {url}, outside the vendor folder")
        deps.append(target)
        return m.group(0)

    text = CSS_REF.sub(ref, data.decode("utf-8"))
    return text.encode("utf-8"), deps


def collect() -> dict[str, bytes]:
    """All files to vendor, keyed by path under VENDOR_DIR."""
    files: dict[str, bytes] = {}
    queue = [local for _, _, local in ASSETS] + EXTRA_FILES
    errors = []
    while queue:
        rel = queue.pop()
        if rel in files:
            continue
        try:
            data = load(rel)
            if rel.endswith(".css"):
                data, deps = localize_css(rel, data)
                queue.extend(deps)
        except (VendorError, OSError, UnicodeDecodeError) as exc:
            errors.append(str(exc))
            continue
        files[rel] = data
    if errors:
        raise VendorError("\n  ".join(["cannot vendor front-end assets:", *sorted(set(errors))]))
    return files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint() -> dict:
    if not LOCK_FILE.is_file():
        raise VendorError(f"{LOCK_FILE} is missing: run 'npm install' in {ASSETS_DIR}")
    return {
        "package_lock": sha256(LOCK_FILE.read_bytes()),
        "script": sha256(Path(__file__).read_bytes()),
        "assets": sha256(json.dumps(ASSETS).encode()),
        "folium": folium_version(),
    }


def folium_version() -> str:
    try:
        return importlib.metadata.version("folium")
    except importlib.metadata.PackageNotFoundError:
        raise VendorError("folium is not installed in this Python environment") from None


def up_to_date(expected: dict) -> bool:
    try:
        manifest = json.loads((VENDOR_DIR / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(manifest, dict)
        and manifest.get("fingerprint") == expected
        and all((VENDOR_DIR / rel).is_file() for rel in manifest.get("files", []))
    )


def npm_install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm not found: install Node.js (npm) to vendor the front-end assets")
    flags = ["--ignore-scripts", "--no-audit", "--no-fund"]
    for cmd in (["ci"], ["install"]):
        print(f"vendor_assets: npm {cmd[0]} in {ASSETS_DIR}", file=sys.stderr)
        if subprocess.run([npm, *cmd, *flags], cwd=ASSETS_DIR).returncode == 0:
            return
    raise VendorError(f"npm ci and npm install both failed in {ASSETS_DIR}")


def build(expected: dict) -> int:
    npm_install()
    files = collect()
    VENDOR_DIR.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".vendor-", dir=VENDOR_DIR.parent))
    try:
        for rel, data in files.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        manifest = {"fingerprint": expected, "files": sorted(files)}
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
        if VENDOR_DIR.exists():
            shutil.rmtree(VENDOR_DIR)
        tmp.rename(VENDOR_DIR)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="rebuild even if up to date")
    mode.add_argument("--check", action="store_true", help="only report whether up to date")
    args = parser.parse_args(argv)
    try:
        expected = fingerprint()
        if not args.force and up_to_date(expected):
            print(f"vendor_assets: {VENDOR_DIR} is up to date")
            return 0
        if args.check:
            print(f"vendor_assets: {VENDOR_DIR} is missing or stale", file=sys.stderr)
            return 1
        count = build(expected)
    except VendorError as exc:
        print(f"vendor_assets: error: {exc}", file=sys.stderr)
        return 1
    print(f"vendor_assets: wrote {count} files to {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
