"""Packaging: a wheel built from the checkout carries the shipped model and plays it with no checkout around."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.io.wavfile

pytestmark = pytest.mark.slow  # pip builds and installs a wheel, which renders: 6 s, 45 s if numba compiles afresh

MODEL_IN_WHEEL = "iirnn_core/resources/models/a0-b7_8k_q0995.json"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel of the project, built by pip from the checkout (as `pip wheel .` would)."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), REPO],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"pip wheel failed: {proc.stderr.strip().splitlines()[-1:]}"
    (path,) = out.glob("iirnn_synth-*.whl")
    return path


def test_the_wheel_carries_the_shipped_model(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert MODEL_IN_WHEEL in names
        assert '"format": "iirnn-model"' in zf.read(MODEL_IN_WHEEL).decode()
    assert not any(n.startswith(("tests/", "benchmarks/", "resources/")) for n in names)


def test_an_installed_wheel_renders_the_shipped_trained_a4(wheel, tmp_path):
    site = tmp_path / "site"  # an empty folder: the package and nothing of the checkout
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    where = subprocess.run([sys.executable, "-c", "import iirnn_core.models.modelfile as m; print(m.__file__); "
                            "print(m.DEFAULT_MODEL_PATH)"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout  # not the checkout's
    proc = subprocess.run([sys.executable, "-m", "iirnn_core.cli", "render", "a4.wav", "--engine", "rnn-trained",
                           "--notes", "A4", "--raw"], capture_output=True, text=True, cwd=elsewhere, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    rate, y = scipy.io.wavfile.read(elsewhere / "a4.wav")
    spectrum = np.abs(np.fft.rfft(y, 1 << 18))
    assert rate == 8000 and abs(np.argmax(spectrum) * rate / (1 << 18) - 440.0) < 1.0
