"""Training in a child process: progress over the queue, result, cancel, and crashes reported."""

import os
import signal
import time

import pytest

from iirnn_core.models.modelfile import TrainedModel
from iirnn_core.training.run import Progress, TrainConfig
from iirnn_core.training.worker import TRAINING_NICENESS, TrainingJob, config_from_dict, config_to_dict

# every test here but one starts a training process (which loads torch and numba): 3-14 s each, 25-30 s the file
pytestmark = pytest.mark.slow

WAIT = 120.0  # generous: a spawned child imports torch and numba first


def wait_for_progress(job, timeout=WAIT):
    """Poll until at least one progress event arrived; returns them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = job.poll()
        if events:
            return events
        assert job.is_running, job.error
        time.sleep(0.02)
    raise AssertionError("no progress arrived")


def test_progress_streams_and_the_result_arrives():
    config = TrainConfig(notes=["A4", "C5"], seconds=0.2)
    job = TrainingJob(config)
    assert job.poll() == [] and not job.is_running
    job.start()
    assert job.is_running
    events = wait_for_progress(job)
    assert job.join(WAIT)
    events += job.poll()
    assert not job.is_running and job.error is None
    assert all(isinstance(e, Progress) and e.notes == ("A4", "C5") for e in events)
    steps = [e.step for e in events]
    assert steps == sorted(steps) and events[-1].done
    model = job.result
    assert isinstance(model, TrainedModel) and model.notes == ["A4", "C5"]
    assert model.steps == events[-1].step
    assert min(k.snr_db for k in model.keys.values()) >= 40.0
    with pytest.raises(RuntimeError):
        job.start()


def test_cancel_returns_at_once_and_the_job_ends_with_the_best_so_far():
    config = TrainConfig(notes=["C4..C6"], optimizer="adam", seconds=0.1)  # 500 epochs: far longer than the test
    job = TrainingJob(config)
    job.start()
    wait_for_progress(job)
    job.cancel()
    assert job.join(WAIT)
    assert job.error is None
    model = job.result
    assert model is not None and 0 < model.steps < 500
    assert model.metadata["cancelled"] is True


def test_a_killed_child_is_reported_and_nothing_hangs():
    job = TrainingJob(TrainConfig(notes=["C4..C6"], optimizer="adam", seconds=0.1))
    job.start()
    wait_for_progress(job)
    os.kill(job.pid, signal.SIGKILL)
    assert job.join(WAIT)
    assert job.result is None
    assert job.error == "the training process ended unexpectedly (exit code -9)"
    assert job.poll() == []


def test_an_exception_in_the_child_is_one_line():
    job = TrainingJob(TrainConfig(notes=["A4"]))
    job.payload["notes"] = ["H9"]  # passes the parent's checks, fails in the child
    job.start()
    assert job.join(WAIT)
    assert job.result is None
    assert job.error.startswith("unknown note 'H9'") and "\n" not in job.error


def test_progress_is_throttled_but_the_last_event_always_arrives():
    job = TrainingJob(TrainConfig(notes=["A4"], seconds=0.1, optimizer="randdir", steps=1000), interval=0.05)
    job.start()
    assert job.join(WAIT)
    events = job.poll()
    assert job.error is None
    assert events[-1].step == 1000 and events[-1].done
    assert len(events) < 1000


def test_config_crosses_as_plain_data(tmp_path):
    from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, load_model

    warm = load_model(DEFAULT_MODEL_PATH)
    config = TrainConfig(notes=["A4"], init="warm", warm_model=warm, seed=5, budget=3.0)
    data = config_to_dict(config)
    assert isinstance(data["warm_model"], dict)
    back = config_from_dict(data)
    assert back.notes == config.notes and back.seed == 5 and back.budget == 3.0
    assert back.warm_model.notes == warm.notes


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities on this platform")
def test_the_child_lowers_its_own_priority_below_the_audio():
    """A child of the audio process (its threads at nice -10) must not inherit the audio's priority."""
    job = TrainingJob(TrainConfig(notes=["A4"], seconds=0.2, budget=30.0))
    job.start()
    try:
        wait_for_progress(job)  # the child lowers its priority before it trains
        assert os.getpriority(os.PRIO_PROCESS, job.pid) >= max(TRAINING_NICENESS, os.getpriority(os.PRIO_PROCESS, 0))
    finally:
        job.cancel()
        job.join(WAIT)


def test_one_persistent_worker_trains_job_after_job_cancels_and_survives_a_crash():
    from iirnn_core.training.worker import TrainingWorker

    worker = TrainingWorker()
    worker.start()
    try:
        pid = worker.pid
        first = TrainingJob(TrainConfig(notes=["A4"], seconds=0.2), worker=worker)
        first.start()
        assert first.join(WAIT) and first.error is None and first.result is not None
        assert worker.ready  # torch was loaded before the first job
        # A second job runs in the same process: no process starts between jobs.
        long_job = TrainingJob(TrainConfig(notes=["C4..C6"], optimizer="adam", seconds=0.1), worker=worker)
        long_job.start()
        wait_for_progress(long_job)
        assert long_job.pid == pid
        long_job.cancel()
        assert long_job.join(WAIT) and long_job.error is None
        assert long_job.result.metadata["cancelled"] is True
        # The process dies mid-job: the job ends with one line and the worker is started again.
        crashing = TrainingJob(TrainConfig(notes=["C4..C6"], optimizer="adam", seconds=0.1), worker=worker)
        crashing.start()
        wait_for_progress(crashing)
        os.kill(pid, signal.SIGKILL)
        assert crashing.join(WAIT)
        assert crashing.error.startswith("the training process ended unexpectedly") and "\n" not in crashing.error
        assert "started again" in crashing.error and worker.restarts == 1
        after = TrainingJob(TrainConfig(notes=["A4"], seconds=0.2), worker=worker)
        after.start()
        assert after.join(WAIT) and after.error is None and after.result is not None
        assert worker.pid != pid and worker.alive
    finally:
        worker.close()
    assert not worker.alive


PARENT = r"""
import sys, time
from iirnn_core.training.worker import TrainingWorker
if __name__ == "__main__":
    worker = TrainingWorker()
    worker.start()
    deadline = time.monotonic() + 120
    while not worker.ready and time.monotonic() < deadline:
        worker.take(0)
        time.sleep(0.05)
    print(worker.pid, flush=True)
    time.sleep(60)
"""


def test_the_worker_ends_when_its_parent_is_killed():
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=root)
    try:
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # it runs
    finally:
        parent.kill()  # no goodbye: SIGKILL
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the training process outlived its killed parent")
