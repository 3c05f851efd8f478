"""Helpers the tests share: files, git repositories, verdicts, the fake GitHub, a seeded trail."""
