"""Model files: round trip, the shipped model, weights_for, atomic saves and every bad-file case."""

import dataclasses
import json
import os
import pickle

import numpy as np
import pytest

from iirnn_core.models import modelfile
from iirnn_core.dsp.notes import parse_notes
from iirnn_core.training.network import RNNWeights, analytic_weights
from iirnn_core.models.modelfile import (DEFAULT_MODEL_PATH, KeyModel, ModelFileError, TrainedModel, load_model,
                                  save_model)
from iirnn_core.dsp.notes import note_to_hz
from iirnn_core.dsp.resonator import SettingError, resonator
from iirnn_core.training.run import measure_snr


def small_model(notes=("A4", "C5"), drive=0.1) -> TrainedModel:
    """A valid model of analytic weights with a small drive (stable, finite)."""
    keys = {}
    for n in notes:
        w = analytic_weights(resonator(note_to_hz(n), 0.995, 8000.0), 3, drive)
        keys[n] = KeyModel(n, note_to_hz(n), w, 38.0)
    return TrainedModel(rate=8000.0, q=0.995, seconds=0.6, amplitude=0.1, hidden=3, drive=1.0, optimizer="best",
                        init="random", steps=10, train_seconds=1.5, seed=3, keys=keys, metadata={"by": "test"})


def write_json(path, data):
    path.write_text(json.dumps(data))
    return path


def test_round_trip_keeps_every_field_and_weight_exactly(tmp_path):
    model = small_model()
    path = tmp_path / "m.json"
    save_model(model, path)
    back = load_model(path)
    for name in ("rate", "q", "seconds", "amplitude", "hidden", "drive", "optimizer", "init", "steps",
                 "train_seconds", "seed", "metadata"):
        assert getattr(back, name) == getattr(model, name), name
    assert back.notes == ["A4", "C5"]
    for n in model.notes:
        a, b = model.keys[n], back.keys[n]
        assert (a.note, a.freq, a.snr_db) == (b.note, b.freq, b.snr_db)
        for arr in ("w_hh", "w_ih", "w_out"):
            np.testing.assert_array_equal(getattr(a.weights, arr), getattr(b.weights, arr))
    assert json.loads(path.read_text())["format"] == "iirnn-model"


def test_shipped_model_covers_every_key_of_the_default_rate_and_renders_above_40_db():
    model = load_model(DEFAULT_MODEL_PATH)
    assert model.describe_keys() == "A0..B7" and len(model.notes) == 87  # C8 (4186 Hz) is above 4 kHz
    assert (model.rate, model.q, model.seconds, model.amplitude, model.hidden) == (8000.0, 0.995, 0.6, 0.1, 3)
    assert model.init == "random"
    for note in ("A0", "C4", "A4", "B7"):
        measured = measure_snr(model, note)
        assert measured >= 40.0
        assert measured == pytest.approx(model.keys[note].snr_db, abs=1e-6)
    assert min(k.snr_db for k in model.keys.values()) >= 40.0


def test_weights_for_names_the_missing_key_and_the_range():
    shipped = load_model(DEFAULT_MODEL_PATH)
    model = dataclasses.replace(shipped, keys={n: shipped.keys[n] for n in parse_notes(["C4..C6"])})
    assert model.describe_keys() == "C4..C6"
    np.testing.assert_array_equal(model.weights_for("Db5", 8000, 0.995).w_hh, model.keys["C#5"].weights.w_hh)
    with pytest.raises(SettingError, match=r"^the model has no key D7 \(it has C4\.\.C6\)$"):
        model.weights_for("D7", 8000, 0.995)
    with pytest.raises(SettingError, match=r"^the model was trained at 8000 Hz, Q 0.995; the synth runs at 16000 Hz, Q 0.995$"):
        model.weights_for("A4", 16000, 0.995)
    with pytest.raises(SettingError, match="Q 0.999"):
        model.weights_for("A4", 8000, 0.999)
    with pytest.raises(SettingError, match=r"it has A4, C5\)"):
        small_model().weights_for("B4", 8000, 0.995)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    save_model(small_model(), path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(modelfile.os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_model(small_model(("C4",)), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.json"]


def test_save_refuses_non_finite_values_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.json"
    save_model(small_model(), path)
    before = path.read_bytes()
    bad = small_model()
    bad.keys["A4"] = KeyModel("A4", 440.0, bad.keys["A4"].weights, float("nan"))
    with pytest.raises(ValueError):
        save_model(bad, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.json"]


class Hostile:
    """Unpickling this would create a file: a pickle model file must never be unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _valid_dict():
    return small_model().to_dict()


def _with(change):
    data = _valid_dict()
    change(data)
    return json.dumps(data).encode()


def _set(path, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _delete(path):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


BAD_FILES = {
    "empty": (b"", "is empty"),
    "whitespace": (b"  \n\t ", "is empty"),
    "garbage": (b"\x00\x9f\xffgarbage\x01", "not an iirnn model file"),
    "text": (b"hello, world", "not an iirnn model file"),
    "truncated": (json.dumps(_valid_dict()).encode()[:300], "not an iirnn model file"),
    "json list": (b"[1, 2, 3]", "not an iirnn model file"),
    "other format": (_with(_set(["format"], "nam")), "not an iirnn model file"),
    "newer version": (_with(_set(["version"], 99)), "version 99"),
    "architecture": (_with(_set(["architecture"], "lstm")), "architecture"),
    "nan weight": (_with(_set(["keys", 0, "weights", "w_hh", 0, 0], "NAN")).replace(b'"NAN"', b"NaN"),
                   "non-finite"),
    "infinite weight": (_with(_set(["keys", 0, "weights", "w_out", 1], "INF")).replace(b'"INF"', b"Infinity"),
                        "non-finite"),
    "huge weight": (_with(_set(["keys", 0, "weights", "w_ih", 0], 1e400)), "non-finite"),
    "w_hh shape": (_with(_set(["keys", 0, "weights", "w_hh"], [[1.0, 0.0], [0.0, 1.0]])), "shape"),
    "w_ih shape": (_with(_set(["keys", 1, "weights", "w_ih"], [1.0, 0.0, 0.0, 0.0])), "shape"),
    "ragged w_hh": (_with(_set(["keys", 0, "weights", "w_hh"], [[0.1, 0.2, 0.0], [0.1], [0, 0, 0]])), "w_hh"),
    "text weight": (_with(_set(["keys", 0, "weights", "w_out"], ["a", "b", "c"])), "w_out"),
    "unstable": (_with(_set(["keys", 0, "weights", "w_hh"], [[1.5, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]])),
                 "spectral radius of 1.5000"),
    "radius exactly 1": (_with(_set(["keys", 0, "weights", "w_hh"], [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0],
                                                                       [0.0, 0.0, 0.0]])), "unstable"),
    "no keys": (_with(_set(["keys"], [])), "keys must be a non-empty list"),
    "no weights": (_with(_delete(["keys", 0, "weights"])), "keys[0].weights is missing"),
    "no w_out": (_with(_delete(["keys", 1, "weights", "w_out"])), "w_out is missing"),
    "no config": (_with(_delete(["config"])), "config is missing"),
    "no rate": (_with(_delete(["config", "rate"])), "config.rate is missing"),
    "no q": (_with(_delete(["config", "q"])), "config.q is missing"),
    "q of 1": (_with(_set(["config", "q"], 1.0)), "config.q"),
    "negative rate": (_with(_set(["config", "rate"], -8000)), "config.rate"),
    "hidden text": (_with(_set(["config", "hidden"], "3")), "config.hidden"),
    "no training": (_with(_delete(["training"])), "training is missing"),
    "no steps": (_with(_delete(["training", "steps"])), "training.steps is missing"),
    "bad note": (_with(_set(["keys", 0, "note"], "H4")), "not a note name"),
    "twice": (_with(_set(["keys", 1, "note"], "A4")), "appears twice"),
    "freq above nyquist": (_with(_set(["keys", 0, "freq"], 5000.0)), "freq"),
    "no snr": (_with(_delete(["keys", 0, "snr_db"])), "snr_db is missing"),
    "metadata list": (_with(_set(["metadata"], [1])), "metadata"),
    "deep nesting": (b"[" * 100000 + b"]" * 100000, "not an iirnn model file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_every_bad_file_is_one_clear_sentence(tmp_path, case):
    raw, words = BAD_FILES[case]
    path = tmp_path / "model.json"
    path.write_bytes(raw)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert words in message
    assert "\n" not in message and "model" in message and len(message) < 200


def test_hostile_pickle_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(Hostile(str(marker))))
    with pytest.raises(ModelFileError, match="not an iirnn model file"):
        load_model(path)
    assert not marker.exists()


def test_missing_unreadable_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(ModelFileError, match="cannot read model file nothing.json"):
        load_model(tmp_path / "nothing.json")
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path)  # a folder
    path = write_json(tmp_path / "m.json", _valid_dict())
    monkeypatch.setattr(modelfile, "MAX_FILE_BYTES", 100)
    with pytest.raises(ModelFileError, match="too large"):
        load_model(path)


def test_a_bad_file_leaves_the_loaded_model_alone(tmp_path):
    good = load_model(write_json(tmp_path / "good.json", _valid_dict()))
    w_before = good.keys["A4"].weights.w_hh.copy()
    (tmp_path / "bad.json").write_bytes(b"{")
    with pytest.raises(ModelFileError):
        good = load_model(tmp_path / "bad.json")
    np.testing.assert_array_equal(good.keys["A4"].weights.w_hh, w_before)


def test_loaded_weights_are_the_renderer_weights():
    model = small_model()
    w = model.weights_for("A4", 8000.0, 0.995)
    assert isinstance(w, RNNWeights) and w.hidden == model.hidden
