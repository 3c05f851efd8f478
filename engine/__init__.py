"""changegate: GitOps policy-as-code for releases, changes and freezes."""

__version__ = "0.1.0.dev0"
