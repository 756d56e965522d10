"""Reading a meta-training run's TensorBoard scalars back (for reports and figures), and
keeping TensorFlow's log lines out of a command's progress output."""

from __future__ import annotations

import logging
import os

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_scalars(logdir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar `trainers.meta_train` logged in `logdir` (histograms are skipped): tag ->
    (steps, values), sorted
    by step; where a resumed run logged a step again, the value written last (by wall time)
    is kept. Each event file is read on its own: TensorBoard's reader of a directory takes
    the files in name order, where the writers' counter in the name sorts 10 before 9."""
    if not os.path.isdir(logdir):
        raise FileNotFoundError(f"No meta-training log directory {logdir!r}.")
    latest: dict[str, dict[int, tuple[float, float]]] = {}  # tag -> step -> (wall time, value)
    for name in os.listdir(logdir):
        if "tfevents" not in name:
            continue
        events = EventAccumulator(os.path.join(logdir, name), size_guidance={"tensors": 0})
        events.Reload()
        for tag in events.Tags()["tensors"]:
            by_step = latest.setdefault(tag, {})
            for e in events.Tensors(tag):
                array = tf.make_ndarray(e.tensor_proto)
                if array.ndim:  # a histogram (e.g. the drawn partial-unroll lengths)
                    break
                value = (e.wall_time, float(array))
                by_step[e.step] = max(by_step.get(e.step, value), value)
    scalars = {}
    for tag, by_step in latest.items():
        if not by_step:
            continue
        steps = np.array(sorted(by_step), dtype=np.int64)
        scalars[tag] = (steps, np.array([by_step[s][1] for s in steps]))
    return scalars


def first_below(
    scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, threshold: float
) -> dict[str, float] | None:
    """The first logged step where `tag` < `threshold`, with the meta-training seconds spent
    up to it (`train_seconds`; 0 at the first evaluation, before any meta-step), or None."""
    steps, values = scalars[tag]
    below = np.flatnonzero(values < threshold)
    if not below.size:
        return None
    step = int(steps[below[0]])
    seconds_steps, seconds = scalars.get("train_seconds", (np.zeros(0, np.int64), np.zeros(0)))
    spent = seconds[seconds_steps <= step]
    return {
        "step": step,
        "value": float(values[below[0]]),
        "train_seconds": float(spent[-1]) if spent.size else 0.0,
    }


def quiet_tensorflow_logs() -> None:
    """Keeps a progress bar readable: no INFO lines from absl (the checkpoint saver's), and
    no retracing warnings, which a problem set triggers by design (one trace per problem
    signature; the meta-trainer logs the compile share as `compile/share`)."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    def keep(record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()

    for logger in (logging.getLogger("tensorflow"), absl_logging.get_absl_logger()):
        logger.addFilter(keep)
