"""Reading logged scalars back, and the first step below a threshold."""

import numpy as np
import pytest
import tensorflow as tf

from trainers.logs import first_below, read_scalars


def _log(logdir, tag, values_by_step):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for step, value in values_by_step:
            tf.summary.scalar(tag, value, step=step)
    writer.close()


def test_scalars_sorted_by_step_and_a_relogged_step_keeps_its_last_value(tmp_path):
    _log(tmp_path, "meta_loss/held_out", [(0, 3.0), (50, 2.0), (100, 1.0)])
    _log(tmp_path, "meta_loss/held_out", [(100, 1.5), (150, 0.5)])  # a resumed run
    _log(tmp_path, "train_seconds", [(s, 0.1 * s) for s in range(1, 151)])
    scalars = read_scalars(str(tmp_path))
    steps, values = scalars["meta_loss/held_out"]
    assert list(steps) == [0, 50, 100, 150]
    np.testing.assert_allclose(values, [3.0, 2.0, 1.5, 0.5])
    assert first_below(scalars, "meta_loss/held_out", 1.8) == pytest.approx(
        {"step": 100, "value": 1.5, "train_seconds": 10.0}
    )
    assert first_below(scalars, "meta_loss/held_out", 3.5)["train_seconds"] == 0.0
    assert first_below(scalars, "meta_loss/held_out", 0.1) is None


def test_the_last_written_value_wins_whatever_the_file_names(tmp_path):
    # Two writers in one second: the names differ by a counter that sorts "10" before "9".
    first = tmp_path / "events.out.tfevents.1000.host.1.9.v2"
    second = tmp_path / "events.out.tfevents.1000.host.1.10.v2"
    for path, logged in ((first, [(0, 3.0), (50, 2.0)]), (second, [(50, 1.0), (100, 0.5)])):
        _log(tmp_path / "tmp", "meta_loss/held_out", logged)
        (written,) = list((tmp_path / "tmp").iterdir())
        written.rename(path)
    steps, values = read_scalars(str(tmp_path))["meta_loss/held_out"]
    assert list(steps) == [0, 50, 100]
    np.testing.assert_allclose(values, [3.0, 1.0, 0.5])


def test_missing_log_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_scalars(str(tmp_path / "nowhere"))
