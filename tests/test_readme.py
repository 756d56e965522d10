"""The README's test command is the one `.ci/run` runs, and its set-up is two commands."""

import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _read(name):
    with open(os.path.join(ROOT, name)) as f:
        return f.read()


def test_ci_runs_the_readme_test_command():
    setup = _read("README.md").split("## Set-up")[1].split("\n## ")[0]
    commands = re.findall(r"```bash\n(.*?)\n```", setup, re.S)
    assert len(commands) == 2, commands
    assert commands[0].startswith("python3 -m venv") and "trainers.meta_train" in commands[0]
    ci_lines = [line for line in _read(".ci/run").splitlines() if not line.startswith("#")]
    assert commands[1] in ci_lines


def test_the_docs_point_at_nothing_outside_the_repository():
    for folder in (".", "docs", "l2o_tf/pretrained"):
        for name in os.listdir(os.path.join(ROOT, folder)):
            if name.endswith(".md"):
                text = _read(os.path.join(folder, name))
                assert "../shared" not in text and "/work/" not in text, name
