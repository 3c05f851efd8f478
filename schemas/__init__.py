"""JSON Schemas of the document kinds, shipped inside the wheel as ``engine.bundled.schemas``."""
