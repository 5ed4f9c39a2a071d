"""One package per system; each exposes `defs`. Systems never import each other."""
