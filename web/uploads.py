"""File uploads: the decorator that lets a view take files up to GRIDGIS_MAX_UPLOAD_MB (every
other request is held to the JSON limit), saving the upload in a private temporary folder, and
unpacking zipped folders of layers with checks on names and sizes."""
from __future__ import annotations

import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from flask import request

from gis.errors import InputError

MAX_ZIP_MEMBERS = 200
MAX_UNZIPPED_BYTES = 2 * 1024**3


def upload(view):
    """Mark a view as an upload endpoint (bodies up to GRIDGIS_MAX_UPLOAD_MB)."""
    view.accepts_upload = True
    return view


def accepts_upload(view) -> bool:
    return bool(getattr(view, "accepts_upload", False))


def flag(name: str) -> bool:
    """A true/false form field or query parameter (absent: false)."""
    raw = (request.form.get(name) or request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise InputError(f"{name} must be true or false", field=name)


def saved_upload(folder: Path, suffixes: tuple[str, ...]) -> Path:
    """The multipart field 'file' saved in `folder` (a zip is unpacked into a folder)."""
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        raise InputError("send the file as multipart/form-data in the field 'file'", field="file")
    suffix = Path(upload_file.filename).suffix.lower()
    if suffix not in suffixes:
        raise InputError(f"{upload_file.filename!r}: expected one of {', '.join(suffixes)}",
                         field="file")
    path = folder / f"upload{suffix}"
    upload_file.save(path)
    if suffix == ".zip":
        return _unzipped(path, folder / "set")
    return path


def _unzipped(path: Path, target: Path) -> Path:
    """A zipped folder of GeoJSON/Shapefile layers, unpacked with checks on names and sizes."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise InputError(f"the zip holds {len(members)} files; at most "
                                 f"{MAX_ZIP_MEMBERS}", field="file")
            if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
                raise InputError("the zip unpacks to more than 2 GiB", field="file")
            target.mkdir()
            for m in members:
                name = Path(m.filename).name  # flatten: no paths from the archive are used
                if not name or name.startswith("."):
                    continue
                with zf.open(m) as src, open(target / name, "wb") as dst:
                    dst.write(src.read())
    except zipfile.BadZipFile as err:
        raise InputError(f"the file is not a readable zip archive ({err})", field="file")
    return target


@contextmanager
def received_file(suffixes: tuple[str, ...]):
    """The uploaded file in a private temporary folder, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        yield saved_upload(Path(tmp), suffixes)
