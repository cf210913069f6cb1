"""File uploads: the decorator that lets a view take files up to GRIDGIS_MAX_UPLOAD_MB (every
other request is held to the JSON limit), saving the upload in a private temporary folder, and
unpacking zipped folders of layers with checks on names and sizes."""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, g, request

from gis.errors import InputError, TooLarge

MAX_ZIP_MEMBERS = 200
UNZIP_FACTOR = 4      # unpacked bytes per byte of the upload limit
MAX_RATIO = 200       # unpacked bytes per compressed byte of a member ...
RATIO_FREE = 1 << 20  # ... once it is past 1 MiB
CHUNK = 1 << 20


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


def uploaded_name() -> str | None:
    """The original file name of the upload in the field 'file'."""
    upload_file = request.files.get("file")
    return upload_file.filename if upload_file is not None else None


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
    """A zipped folder of GeoJSON/Shapefile layers, unpacked with checks on names and sizes:
    members are streamed (never read whole), and the unpacked total may not exceed
    UNZIP_FACTOR times the upload limit nor any member MAX_RATIO times its compressed size,
    whatever the archive claims (TooLarge, 413, before memory or disk fill up)."""
    limit = UNZIP_FACTOR * current_app.config["MAX_CONTENT_LENGTH"]
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise InputError(f"the zip holds {len(members)} files; at most "
                                 f"{MAX_ZIP_MEMBERS}", field="file")
            if sum(m.file_size for m in members) > limit:
                raise TooLarge(f"the zip unpacks to more than {limit // 2**20} MiB", field="file")
            target.mkdir()
            total = 0
            for m in members:
                name = Path(m.filename).name  # flatten: no paths from the archive are used
                if not name or name.startswith("."):
                    continue
                allowed = max(m.compress_size * MAX_RATIO, RATIO_FREE)
                written = 0
                with zf.open(m) as src, open(target / name, "wb") as dst:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        if written > allowed:
                            raise TooLarge(f"{name} unpacks to more than {MAX_RATIO} times its "
                                           "compressed size (a zip bomb?); nothing was imported",
                                           field="file")
                        if total > limit:
                            raise TooLarge(f"the zip unpacks to more than {limit // 2**20} MiB; "
                                           "nothing was imported", field="file")
                        dst.write(chunk)
    except zipfile.BadZipFile as err:
        raise InputError(f"the file is not a readable zip archive ({err})", field="file")
    return target


PREFIX = "gridgis-upload-"


@contextmanager
def received_file(suffixes: tuple[str, ...]):
    """The uploaded file in a private temporary folder (named after this process), removed when
    the block ends, at the latest when the request ends."""
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    g.setdefault("upload_folders", []).append(folder)
    try:
        yield saved_upload(folder, suffixes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_folders() -> int:
    """Remove upload folders left by gridgis processes that no longer run (killed in the middle
    of an import); returns how many."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name[len(PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def init_app(app) -> None:
    remove_stale_folders()

    @app.teardown_request
    def remove_upload_folders(_exc=None):
        for folder in g.pop("upload_folders", []):
            shutil.rmtree(folder, ignore_errors=True)
