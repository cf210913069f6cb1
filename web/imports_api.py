"""File uploads: boundary sets (administrators) and incident tables, up to GRIDGIS_MAX_UPLOAD_MB.

Each upload is written to a private temporary folder and imported in one transaction; a file
that fails any check is refused whole with the report of what is wrong."""
from __future__ import annotations

import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path

from flask import Blueprint, jsonify, request

from gis import service
from gis.errors import InputError
from web import UPLOAD_ENDPOINTS, engine
from web.auth import client_ip, principal, requires

bp = Blueprint("imports_api", __name__, url_prefix="/api/v1/imports")
INCIDENT_SUFFIXES = (".csv", ".geojson", ".json")
BOUNDARY_SUFFIXES = (".gpkg", ".geojson", ".json", ".zip")
MAX_ZIP_MEMBERS = 200
MAX_UNZIPPED_BYTES = 2 * 1024**3


def _flag(name: str) -> bool:
    raw = (request.form.get(name) or request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise InputError(f"{name} must be true or false", field=name)


def _origin() -> dict:
    return {"ip": client_ip(), "user_agent": request.headers.get("User-Agent")}


def _saved_upload(folder: Path, suffixes: tuple[str, ...]) -> Path:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InputError("send the file as multipart/form-data in the field 'file'", field="file")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in suffixes:
        raise InputError(f"{upload.filename!r}: expected one of {', '.join(suffixes)}",
                         field="file")
    path = folder / f"upload{suffix}"
    upload.save(path)
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


@bp.post("/incidents")
@requires("incident.import")
def import_incidents():
    """Incident table (CSV in UTF-8 or GBK, or GeoJSON); form fields crs, source, skip_bad."""
    p = principal()
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = _saved_upload(Path(tmp), INCIDENT_SUFFIXES)
        report = service.import_incidents(
            engine(), path, crs=request.form.get("crs") or None,
            skip_bad=_flag("skip_bad"), scope=p.scope, actor=p, origin=_origin(),
            source=request.form.get("source") or f"upload:{p.username}")
    body = asdict(report)
    return jsonify(body), 201 if report.inserted else 200


@bp.post("/boundaries")
@requires("boundary.import")
def import_boundaries():
    """Boundary set (GeoPackage, or a zip of GeoJSON/Shapefile layers); validated, and written as
    the new active generation when commit=true."""
    commit = _flag("commit")
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = _saved_upload(Path(tmp), BOUNDARY_SUFFIXES)
        report = service.import_boundaries(engine(), path, commit=commit,
                                           name=request.form.get("name") or
                                           Path(request.files["file"].filename).stem,
                                           crs=request.form.get("crs") or None,
                                           repair=_flag("repair"), actor=principal(),
                                           origin=_origin())
    body = asdict(report)
    body["source"] = request.files["file"].filename
    return jsonify(body), 201 if report.committed else 200


UPLOAD_ENDPOINTS.update({"imports_api.import_incidents", "imports_api.import_boundaries"})
