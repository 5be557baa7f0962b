"""`luciole init` and `luciole import-lamps`: setting up a new site.

The example files `init` writes are shipped inside the package (`luciole/examples/`, copies of
`config/site.yaml` and `config/policy.yaml` that a test keeps identical), so an installed
wheel has them too.
"""

import argparse
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from luciole.files import EXIT_INVALID, EXIT_OK, doc
from luciole.inventory import InventoryError, read_inventory
from luciole.segments import plan_segments, segments_yaml, summary

EXAMPLES = ("site.yaml", "policy.yaml")


def register(sub: "argparse._SubParsersAction[Any]") -> None:
    """Add `init` and `import-lamps` to the `luciole` parser."""
    init = sub.add_parser(
        "init",
        help="write a site and a policy file to start from",
        description=doc(_init_command),
    )
    init.add_argument("dir", type=Path, metavar="DIR", help="folder to write them to")
    init.add_argument(
        "--force", action="store_true", help="overwrite the site.yaml and policy.yaml DIR has"
    )
    init.set_defaults(command=_init_command)

    lamps = sub.add_parser(
        "import-lamps",
        help="a lamp inventory (GeoJSON or CSV) as the segments of a site file",
        description=doc(_import_command),
    )
    lamps.add_argument(
        "inventory", metavar="INVENTORY", help="GeoJSON or CSV file, or - for standard input"
    )
    lamps.add_argument(
        "--street-key",
        default="street",
        metavar="NAME",
        help="property or column with the street's name (default: %(default)s)",
    )
    lamps.add_argument(
        "--id-key",
        default="id",
        metavar="NAME",
        help="property or column with the lamp's id (default: %(default)s)",
    )
    cut = lamps.add_mutually_exclusive_group()
    cut.add_argument(
        "--segment-lamps",
        type=_positive(int),
        metavar="N",
        help="N consecutive lamps per segment (default: 4)",
    )
    cut.add_argument(
        "--segment-length",
        type=_positive(float),
        metavar="METRES",
        help="segments of about this length instead",
    )
    lamps.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    lamps.set_defaults(command=_import_command)


def installed_version() -> str:
    """The installed distribution's version, or `unknown` when Luciole runs uninstalled."""
    try:
        return metadata.version("luciole")
    except metadata.PackageNotFoundError:
        return "unknown"


def example(name: str) -> bytes:
    """A shipped example file (`site.yaml`, `policy.yaml`), from the installed package."""
    return resources.files("luciole").joinpath("examples", name).read_bytes()


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be more than 0 (got {text})")
        return value

    return parse


def _init_command(args: argparse.Namespace) -> int:
    """Write a commented site.yaml and policy.yaml to start from into DIR (created if
    missing): the demo district of two streets, with its sensors. Files DIR already has are
    kept unless --force. Then edit them, check them and run."""
    folder: Path = args.dir
    targets = [folder / name for name in EXAMPLES]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not args.force:
        verb = "exists" if len(existing) == 1 else "exist"
        print(
            f"luciole init: {' and '.join(existing)} already {verb}; nothing written"
            " (--force overwrites)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path in targets:
            path.write_bytes(example(path.name))
    except OSError as error:
        print(f"luciole init: cannot write to {folder}: {error.strerror}", file=sys.stderr)
        return EXIT_INVALID
    site = targets[0]
    for path in targets:
        print(f"wrote {path}")
    print(
        "next:\n"
        f"  1. edit {site}: the site's id, place and time zone, the broker, the segments\n"
        "     (`luciole import-lamps INVENTORY` writes them from the city's lamp inventory)\n"
        "     and the devices; then the policy beside it\n"
        f"  2. luciole check-config {site}\n"
        f"  3. luciole run --config {site}"
    )
    return EXIT_OK


def _import_command(args: argparse.Namespace) -> int:
    """Turn a city's lamp inventory into the `segments:` of a site file (YAML on stdout or
    --out, a summary on stderr). GeoJSON: a FeatureCollection of Point features whose
    properties give the street and the lamp's id, and optionally power_w (or rated_power_w)
    and lighting_class. CSV: columns id, street, lat (or latitude), lon (or longitude) and
    optionally power_w and lighting_class. Lamps are grouped by street and ordered along it
    (projected on the street's main axis, in metres), then cut into segments of N
    consecutive lamps or of about --segment-length metres. A segment's power is its lamps'
    mean (40 W when none is given), its class the most common (P4 when none is given); where
    it starts and ends is a comment on its line. Lamps without a street or coordinates are
    left out, and named. Exit 2 when the inventory cannot be used.
    """
    name = "standard input" if args.inventory == "-" else args.inventory
    try:
        text = (
            sys.stdin.read()
            if args.inventory == "-"
            else Path(args.inventory).read_text(encoding="utf-8-sig")
        )
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        print(f"luciole import-lamps: cannot read {name}: {reason}", file=sys.stderr)
        return EXIT_INVALID
    try:
        reading = read_inventory(text, args.street_key, args.id_key)
    except InventoryError as error:
        print(f"luciole import-lamps: {name}: {error}", file=sys.stderr)
        return EXIT_INVALID
    if not reading.lamps:
        seen = ", ".join(reading.keys) or "none"
        print(
            f"luciole import-lamps: {name}: no lamp with both a street ({args.street_key!r})"
            f" and coordinates (properties or columns seen: {seen}); --street-key names"
            " another property or column",
            file=sys.stderr,
        )
        for line in summary(reading, plan_segments([]))[1:]:
            print(f"luciole import-lamps: {line}", file=sys.stderr)
        return EXIT_INVALID
    plan = plan_segments(reading.lamps, args.segment_lamps, args.segment_length)
    output = segments_yaml(plan, name)
    if args.out is None:
        sys.stdout.write(output)
    else:
        try:
            args.out.write_text(output, encoding="utf-8")
        except OSError as error:
            print(
                f"luciole import-lamps: cannot write {args.out}: {error.strerror}", file=sys.stderr
            )
            return EXIT_INVALID
    for line in summary(reading, plan):
        print(f"luciole import-lamps: {line}", file=sys.stderr)
    if args.out is not None:
        print(f"luciole import-lamps: wrote {args.out}", file=sys.stderr)
    return EXIT_OK
