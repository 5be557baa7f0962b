"""`luciole`: the command line, the top room. The only place that prints for people and the
only one that imports the simulator (inside the commands that need it, so `luciole run` never
loads it or its extra). Nothing imports this package.

- `main`      the parser, `luciole run`, `check-config`, and the `sim` commands' entry.
- `demo`      `luciole demo`: one simulated night on a simulated district, live.
- `files`     `luciole decode` and `luciole export`: tools that need no broker.
- `decode`    the body of `luciole decode`.
- `override`  `luciole override TARGET LEVEL --for 30m` and `--clear`.
- `traces`    `luciole record`, `luciole replay` and the arguments of `luciole sim`.
- `segments`  `import-lamps`: lamps ordered along streets, cut into segments, as YAML.
Imports: `gateway`, `controllers`, and `sim` lazily.
"""
