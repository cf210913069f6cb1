"""Attachments: photos and documents on incident reports and actions, stored in PostgreSQL
(gis.store.attachments). content: the pure checks and transformations of the bytes (type by
content, size and pixel limits, EXIF location as a suggestion, metadata stripped, thumbnails);
usecases: adding, listing and reading them, visible only where their incident is."""
