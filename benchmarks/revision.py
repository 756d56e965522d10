"""Which code a benchmark measured: the git revision, marked when the tree has changes."""

from __future__ import annotations

import os
import subprocess


def source_revision() -> str:
    """`<short sha>` of HEAD, with `+uncommitted changes` when the working tree differs."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    sha = git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return sha + (" +uncommitted changes" if dirty else "")
