"""Documents (SPEC §2-3): YAML with positions, the envelope and kinds, JSON Schemas, the config."""
