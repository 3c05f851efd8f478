"""The workspace: where the repository is, which files are its documents, their semantic checks,
the inventory.
"""
