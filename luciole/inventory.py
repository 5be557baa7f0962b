"""Reading a city's lamp inventory (GeoJSON or CSV) into lamps, for `luciole import-lamps`:
`read_inventory`, the `Lamp` and `Reading` it makes, and `InventoryError` when it cannot.

Ordering the lamps along their streets and writing the `segments:` of a site file live in
`luciole.segments`; its names are re-exported here, so `luciole.inventory` stays the one
import for the whole of `import-lamps`.
"""

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from luciole.segments import (
    Plan,
    SegmentPlan,
    order_along_street,
    plan_segments,
    segments_yaml,
    slugify,
    summary,
)

__all__ = [
    "InventoryError",
    "Lamp",
    "Plan",
    "Reading",
    "SegmentPlan",
    "order_along_street",
    "plan_segments",
    "read_csv",
    "read_geojson",
    "read_inventory",
    "segments_yaml",
    "slugify",
    "summary",
]

LIGHTING_CLASSES = ("P1", "P2", "P3", "P4", "P5", "P6")
POWER_KEYS = ("rated_power_w", "power_w", "power")
LAT_KEYS = ("lat", "latitude")
LON_KEYS = ("lon", "longitude", "lng")


class InventoryError(ValueError):
    """The inventory cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class Lamp:
    id: str
    street: str  # the name as the inventory gives it
    latitude: float
    longitude: float
    power_w: float | None = None
    lighting_class: str | None = None


@dataclass
class Reading:
    """What an inventory holds: the usable lamps, and the ids of those left out."""

    lamps: list[Lamp] = field(default_factory=list)
    without_street: list[str] = field(default_factory=list)
    without_coordinates: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # property or column names seen


# --- reading ---------------------------------------------------------------------------------


def read_inventory(text: str, street_key: str = "street", id_key: str = "id") -> Reading:
    """The lamps of a GeoJSON FeatureCollection or of a CSV file (told apart by the first
    character: `{` is JSON)."""
    if text.lstrip().startswith("{"):
        return read_geojson(text, street_key, id_key)
    return read_csv(text, street_key, id_key)


def read_geojson(text: str, street_key: str = "street", id_key: str = "id") -> Reading:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InventoryError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise InventoryError(
            f"not a GeoJSON FeatureCollection (type: {kind!r}); export the lamps as a"
            ' FeatureCollection of Point features: {"type": "FeatureCollection", "features": [...]}'
        )
    reading = Reading()
    keys: dict[str, None] = {}
    for index, feature in enumerate(data["features"], 1):
        if not isinstance(feature, dict):
            reading.without_coordinates.append(f"feature {index}")
            continue
        properties = feature.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        keys.update(dict.fromkeys(properties))
        lamp_id = _text(_get(properties, id_key)) or _text(feature.get("id")) or f"feature {index}"
        street = _text(_get(properties, street_key))
        point = _point(feature.get("geometry"))
        if not street:
            reading.without_street.append(lamp_id)
        elif point is None:
            reading.without_coordinates.append(lamp_id)
        else:
            reading.lamps.append(_lamp(lamp_id, street, point, properties))
    reading.keys = list(keys)
    return reading


def read_csv(text: str, street_key: str = "street", id_key: str = "id") -> Reading:
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header = [name.strip() for name in next(rows, [])]
    columns = {name.casefold(): index for index, name in reversed(list(enumerate(header)))}

    def column(*names: str) -> int | None:
        return next((columns[n.casefold()] for n in names if n.casefold() in columns), None)

    street_at, lat_at, lon_at = column(street_key), column(*LAT_KEYS), column(*LON_KEYS)
    missing = [
        wanted
        for wanted, at in (
            (street_key, street_at),
            ("lat (or latitude)", lat_at),
            ("lon (or longitude, lng)", lon_at),
        )
        if at is None
    ]
    if missing or street_at is None or lat_at is None or lon_at is None:
        found = ", ".join(header) if any(header) else "none"
        raise InventoryError(
            f"the CSV has no column {' and no column '.join(missing)} (columns: {found}); it"
            f" needs {id_key}, {street_key}, lat, lon and optionally power_w, lighting_class"
            " (--street-key and --id-key name other columns)"
        )
    id_at = column(id_key)
    power_at, class_at = column(*POWER_KEYS), column("lighting_class")
    reading = Reading(keys=header)
    for line, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(at: int | None, row: list[str] = row) -> str:
            return row[at].strip() if at is not None and at < len(row) else ""

        lamp_id = cell(id_at) or f"line {line}"
        street = cell(street_at)
        point = _lat_lon(_number(cell(lat_at)), _number(cell(lon_at)))
        if not street:
            reading.without_street.append(lamp_id)
        elif point is None:
            reading.without_coordinates.append(lamp_id)
        else:
            extra = {"power_w": cell(power_at), "lighting_class": cell(class_at)}
            reading.lamps.append(_lamp(lamp_id, street, point, extra))
    return reading


def _get(properties: Mapping[str, Any], key: str) -> Any:
    """A property by its name, or by the same name in another case."""
    if key in properties:
        return properties[key]
    folded = key.casefold()
    return next((v for k, v in properties.items() if str(k).casefold() == folded), None)


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _lat_lon(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _point(geometry: Any) -> tuple[float, float] | None:
    """(lat, lon) of a GeoJSON Point (whose coordinates are [lon, lat])."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None
    return _lat_lon(_number(coordinates[1]), _number(coordinates[0]))


def _lamp(lamp_id: str, street: str, point: tuple[float, float], data: Mapping[str, Any]) -> Lamp:
    power = next(
        (p for p in (_number(_get(data, k)) for k in POWER_KEYS) if p is not None and p > 0), None
    )
    lighting_class = _text(_get(data, "lighting_class")).upper()
    return Lamp(
        lamp_id,
        street,
        point[0],
        point[1],
        power,
        lighting_class if lighting_class in LIGHTING_CLASSES else None,
    )
