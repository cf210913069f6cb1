"""File answers: a use case's Download, or a table, as an attachment."""
from __future__ import annotations

from flask import Response

from gis.files import Download, frame_csv_bytes


def attachment(download: Download) -> Response:
    return Response(download.data, mimetype=download.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{download.filename}"'})


def frame_csv(frame, filename: str) -> Response:
    """A table as a CSV download (UTF-8 with a BOM so that Excel reads the Chinese names)."""
    return Response(frame_csv_bytes(frame), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
