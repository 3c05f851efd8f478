"""Data shipped with changegate. The top-level schemas/ and policies/ folders of the source
tree are installed here as engine.bundled.schemas and engine.bundled.policies."""
