"""Built-in policy packs, shipped inside the wheel as ``engine.bundled.policies``."""
