"""Kernel density of incidents in metres, and its class polygons for a choropleth layer.

The kernel is a Gaussian whose standard deviation is `bandwidth_m` metres, measured in a
transverse Mercator centred on the data (gis.geo.measure), so a bandwidth means the same
ground distance at any latitude. Densities are incidents (or summed weights) per km².

Computation: the points are linearly binned onto the cell centres of a raster (each point shared
between its four nearest centres, which keeps its centre of mass), then smoothed with
scipy.ndimage.gaussian_filter (sigma = bandwidth / cell, kernel cut at 4 sigma). The raster is
padded by more than 4 sigma beyond the data (or the bounds asked for), so no mass runs off its
edge: the densities integrate to the number of points. With bandwidth >= 5 cells the surface is
within about 1 % of the exact sum of Gaussians (see tests/test_density.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import contourpy
import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon

from gis.analysis.classes import classify, range_labels, sequential_colours
from gis.errors import InputError
from gis.geo.crs import STORAGE_CRS
from gis.geo.measure import check_lonlat, local_metric_crs, to_lonlat, to_metres

TRUNCATE = 4.0           # kernel radius in standard deviations
MAX_CELLS = 4_000_000    # 2,000 x 2,000: ~32 MB of float64
UNIT = {"en": "incidents/km²", "zh": "起/平方公里"}


@dataclass(frozen=True)
class DensitySurface:
    """A kernel density raster in a local metric CRS, as made by `kde_surface`.

    Row 0 is the northern edge; `transform` maps (col, row) of cell corners to projected x/y like
    an affine/GDAL geotransform: x = c + a*col, y = f + e*row.

    Attributes
    ----------
    density : numpy.ndarray
        Float array of shape (rows, cols): incidents (or summed weights) per km² at the cell
        centres.
    transform : tuple of float
        (a, b, c, d, e, f) = (cell_m, 0, west, 0, -cell_m, north), x/y in metres of `crs`.
    crs : pyproj.CRS
        The local transverse Mercator (metres) of the raster.
    bounds : tuple of float
        (west, south, east, north) of the raster's extent in degrees, EPSG:4326.
    cell_m : float
        Cell size in metres.
    bandwidth_m : float
        Standard deviation of the Gaussian kernel in metres.
    n_points : int
        Number of points on the raster.
    n_outside : int
        Number of points dropped because they lie off the raster.
    total_weight : float
        Sum of the weights of the points on the raster (their number without weights).
    """
    density: np.ndarray          # (rows, cols) incidents per km² at cell centres
    transform: tuple             # (a, b, c, d, e, f) = (cell, 0, west, 0, -cell, north) in metres
    crs: CRS                     # the local metric CRS of the raster
    bounds: tuple                # (west, south, east, north) lon/lat of the raster's extent
    cell_m: float
    bandwidth_m: float
    n_points: int                # points on the raster
    n_outside: int               # points dropped because they lie off the raster
    total_weight: float          # sum of the weights of the points on the raster

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the density raster."""
        return self.density.shape

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Projected coordinates of the cell centres.

        Returns
        -------
        x : numpy.ndarray
            Shape (cols,): x in metres of `crs` of each column's centres, west to east.
        y : numpy.ndarray
            Shape (rows,): y in metres of `crs` of each row's centres, north to south.
        """
        cell, _, west, _, _, north = self.transform
        rows, cols = self.density.shape
        return west + (np.arange(cols) + 0.5) * cell, north - (np.arange(rows) + 0.5) * cell

    def sample(self, lon, lat) -> np.ndarray:
        """Density at lon/lat points, bilinear between cell centres.

        Parameters
        ----------
        lon, lat : array_like of float
            Longitudes and latitudes in degrees, EPSG:4326, same length.

        Returns
        -------
        numpy.ndarray
            Float array of shape (n,): incidents per km² at each point (the nearest centre's value
            in the outer half cell); NaN off the raster.

        Raises
        ------
        InputError
            Coordinates of unequal length, missing or outside the lon/lat range (field
            "coordinates").
        """
        lon, lat = check_lonlat(lon, lat)
        x, y = to_metres(self.crs).transform(lon, lat)
        cell, _, west, _, _, north = self.transform
        col = (np.asarray(x) - west) / cell - 0.5
        row = (north - np.asarray(y)) / cell - 0.5
        rows, cols = self.density.shape
        out = ndimage.map_coordinates(self.density, [row, col], order=1, mode="nearest")
        off = (row < -0.5) | (row > rows - 0.5) | (col < -0.5) | (col > cols - 0.5)
        return np.where(off, np.nan, out)


def _check_bounds(bounds) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InputError("bounds must be (west, south, east, north) in degrees",
                         field="bounds") from None
    check_lonlat([west, east], [south, north], field="bounds")
    if not (west < east and south < north):
        raise InputError("bounds must have west < east and south < north", field="bounds")
    return west, south, east, north


def kde_surface(lon, lat, bandwidth_m: float, cell_m: float = 100.0, bounds=None,
                weights=None) -> DensitySurface:
    """Gaussian kernel density of points given in EPSG:4326, in incidents per km².

    The points are linearly binned onto the cell centres of a raster in a transverse Mercator
    centred on the bounds and smoothed with a Gaussian cut at 4 standard deviations (see the
    module docstring); the densities integrate to the number of points (or their total weight).

    Parameters
    ----------
    lon, lat : array_like of float
        Longitudes and latitudes of the points in degrees, EPSG:4326, same length; may be empty
        when `bounds` is given.
    bandwidth_m : float
        The kernel's standard deviation in metres, > 0.
    cell_m : float, default 100.0
        Raster cell size in metres, > 0 and at most the bandwidth; a fifth of it or less for
        accurate values.
    bounds : tuple of float, optional
        (west, south, east, north) in degrees (EPSG:4326) to map, default the points' extent. The
        raster covers it plus a margin of 4 bandwidths, and points beyond that margin are left out
        (their kernels reach the bounds with less than 0.04 % of their peak).
    weights : array_like of float, optional
        Non-negative weight per point (default 1 each); densities are then weight per km².

    Returns
    -------
    DensitySurface
        The raster (incidents per km²), its metric CRS and geotransform, and how many points lie
        on and off it.

    Raises
    ------
    InputError
        Bad coordinates ("coordinates"); bandwidth_m not a positive number ("bandwidth_m");
        cell_m not in (0, bandwidth_m], or a raster of more than MAX_CELLS cells ("cell_m");
        weights not one finite non-negative number per point ("weights"); bounds malformed, out
        of the lon/lat range or not west < east and south < north, or neither points nor bounds
        ("bounds").
    """
    lon, lat = check_lonlat(lon, lat)
    bandwidth_m, cell_m = float(bandwidth_m), float(cell_m)
    if not (math.isfinite(bandwidth_m) and bandwidth_m > 0):
        raise InputError("bandwidth_m must be a positive number of metres", field="bandwidth_m")
    if not (math.isfinite(cell_m) and 0 < cell_m <= bandwidth_m):
        raise InputError("cell_m must be positive and at most bandwidth_m", field="cell_m")
    if weights is None:
        w = np.ones(lon.size)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != lon.shape or not (np.isfinite(w) & (w >= 0)).all():
            raise InputError("weights must be one non-negative number per point", field="weights")
    if bounds is not None:
        west, south, east, north = _check_bounds(bounds)
    elif lon.size:
        west, south, east, north = lon.min(), lat.min(), lon.max(), lat.max()
    else:
        raise InputError("no points and no bounds: nothing to map", field="bounds")

    crs = local_metric_crs([west, east], [south, north])
    forward = to_metres(crs)
    x0, y0, x1, y1 = forward.transform_bounds(west, south, east, north, densify_pts=21)
    sigma = bandwidth_m / cell_m
    pad = (math.ceil(TRUNCATE * sigma) + 2) * cell_m   # kernel + binning spread + 1 empty cell
    gx0 = math.floor((x0 - pad) / cell_m) * cell_m
    gy1 = math.ceil((y1 + pad) / cell_m) * cell_m
    cols = math.ceil((x1 + pad - gx0) / cell_m)
    rows = math.ceil((gy1 - (y0 - pad)) / cell_m)
    if rows * cols > MAX_CELLS:
        raise InputError(f"a {cols} x {rows} raster is too large (at most {MAX_CELLS:,} cells); "
                         "use a larger cell_m or smaller bounds", field="cell_m")

    x, y = forward.transform(lon, lat)
    fc = (np.asarray(x) - gx0) / cell_m - 0.5   # fractional column of the cell centres
    fr = (gy1 - np.asarray(y)) / cell_m - 0.5
    on = (fc >= 0) & (fc < cols - 1) & (fr >= 0) & (fr < rows - 1)
    c0, r0 = np.floor(fc[on]).astype(np.int64), np.floor(fr[on]).astype(np.int64)
    tc, tr, won = fc[on] - c0, fr[on] - r0, w[on]
    grid = np.zeros(rows * cols)
    for dr, dc, share in ((0, 0, (1 - tr) * (1 - tc)), (0, 1, (1 - tr) * tc),
                          (1, 0, tr * (1 - tc)), (1, 1, tr * tc)):
        grid += np.bincount((r0 + dr) * cols + (c0 + dc), weights=won * share,
                            minlength=rows * cols)
    smooth = ndimage.gaussian_filter(grid.reshape(rows, cols), sigma=sigma, mode="constant",
                                     truncate=TRUNCATE)
    density = smooth * (1e6 / (cell_m * cell_m))
    extent = to_lonlat(crs).transform_bounds(gx0, gy1 - rows * cell_m, gx0 + cols * cell_m, gy1,
                                             densify_pts=21)
    return DensitySurface(density=density, transform=(cell_m, 0.0, gx0, 0.0, -cell_m, gy1),
                          crs=crs, bounds=tuple(float(v) for v in extent), cell_m=cell_m,
                          bandwidth_m=bandwidth_m, n_points=int(on.sum()),
                          n_outside=int((~on).sum()), total_weight=float(won.sum()))


def _polygons(filled) -> list[Polygon]:
    """Polygons from contourpy's FillType.OuterOffset output (outer ring, then its holes)."""
    out = []
    for points, offsets in zip(*filled):
        rings = np.split(points, offsets[1:-1])
        out.append(Polygon(rings[0], rings[1:]))
    return out


def density_bands(surface: DensitySurface, *, scheme: str = "EqualInterval", k: int = 5,
                  breaks=None, min_density: float | None = None,
                  palette: str = "YlOrRd") -> gpd.GeoDataFrame:
    """Isoband polygons of a density surface for a choropleth layer, one row per band, in EPSG:4326.

    By default cells below `min_density` are background and get no polygon, and the bands of the
    rest are the classes of gis.analysis.classes.classify(scheme, k) on those cells' densities; the
    top band ends at the peak. `breaks` instead fixes the bands' lower edges, for the same legend
    across dates. Bands are traced (contourpy) between the cell centres in the surface's metric CRS
    and then transformed to lon/lat.

    Parameters
    ----------
    surface : DensitySurface
        The density raster (incidents per km²).
    scheme : str, default "EqualInterval"
        Classification scheme of `classify` for the default bands.
    k : int, default 5
        Number of bands asked for from `scheme`.
    breaks : array_like of float, optional
        Lower edges of the bands in incidents per km², finite and strictly increasing: the first
        is the background floor, the last band is open. Replaces scheme, k and min_density.
    min_density : float, optional
        Background floor in incidents per km², >= 0; default 5 % of the peak density.
    palette : str, default "YlOrRd"
        ColorBrewer sequential palette of the band colours.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, one row per band, columns class (0, 1, ...), lower and upper (incidents per
        km²; upper inf for an open last band), label, colour (hex) and geometry (a MultiPolygon,
        empty when no area falls in the band); no rows when, without breaks, nothing reaches the
        floor. ``attrs["unit"]`` names the unit: {"en": "incidents/km²", "zh": "起/平方公里"}.

    Raises
    ------
    InputError
        breaks not finite and increasing ("breaks"), min_density negative or not finite
        ("min_density"), or a bad scheme, k or palette (from `classify`, `sequential_colours`).
    """
    d = surface.density
    peak = float(d.max()) if d.size else 0.0
    if breaks is not None:
        edges = np.asarray(breaks, dtype=float).ravel()
        if edges.size == 0 or not np.isfinite(edges).all() or (np.diff(edges) <= 0).any():
            raise InputError("breaks must be increasing finite densities", field="breaks")
        upper = np.r_[edges[1:], np.inf]
    else:
        floor = 0.05 * peak if min_density is None else float(min_density)
        if not math.isfinite(floor) or floor < 0:
            raise InputError("min_density must be a non-negative number", field="min_density")
        if peak <= 0 or floor >= peak:
            edges = upper = np.empty(0)
        else:
            classes = classify(d[d >= floor], scheme=scheme, k=k)
            upper = classes.upper
            edges = np.r_[floor, upper[:-1]]
    xs, ys = surface.cell_centres()
    generator = contourpy.contour_generator(xs, ys[::-1], d[::-1], name="serial",
                                            fill_type=contourpy.FillType.OuterOffset)
    back = to_lonlat(surface.crs)
    geoms = []
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < edges.size else np.inf
        polys = _polygons(generator.filled(lo, hi)) if lo < hi and peak > 0 else []
        geoms.append(shapely.transform(MultiPolygon(polys), lambda xy: np.column_stack(
            back.transform(xy[:, 0], xy[:, 1]))))
    frame = gpd.GeoDataFrame({"class": np.arange(edges.size), "lower": edges, "upper": upper,
                              "label": range_labels(edges, upper),
                              "colour": sequential_colours(edges.size, palette),
                              "geometry": geoms}, geometry="geometry", crs=STORAGE_CRS)
    frame.attrs["unit"] = dict(UNIT)
    return frame
