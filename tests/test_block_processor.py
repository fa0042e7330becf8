"""The block processor's lock-free hand-offs under stress: the event ring and the patch swaps."""

import threading
import time

import numpy as np
from numba import njit

from iirnn_core.rt.atomics import load_acquire, store_release
from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.synth.block_processor import EVENT_RING, NOTE_ON, BlockProcessor
from iirnn_core.synth.renderer import SynthSettings

N_EVENTS = 200_000


@njit(nogil=True)
def consume(ring, ev_i, ev_f, seen, stop):
    """The callback's side of the ring, as ``_drain_events`` reads it: checks order and every field."""
    mask = ev_i.shape[0] - 1
    expected = 0
    torn = 0
    while expected < seen.shape[0] and stop[0] == 0:
        write = load_acquire(ring, 0)
        read = ring[1]
        while read < write:
            slot = read & mask
            i = ev_f[slot, 1]  # "when" carries the sequence number
            if int(-i) != expected or ev_i[slot, 1] != expected % 128 or ev_f[slot, 0] != expected * 0.5:
                torn += 1
            seen[expected] += 1
            expected += 1
            read += 1
        store_release(ring, 1, read)
    return torn


def test_ring_loses_duplicates_and_tears_no_event():
    proc = BlockProcessor(48000, 128, 2, 0.005)
    seen = np.zeros(N_EVENTS, dtype=np.int64)
    stop = np.zeros(1, dtype=np.int64)
    consume(proc.ring, proc.ev_i, proc.ev_f, np.zeros(0, dtype=np.int64), stop)  # compile first
    result = []
    consumer = threading.Thread(target=lambda: result.append(consume(proc.ring, proc.ev_i, proc.ev_f, seen, stop)))
    consumer.start()
    full = 0
    for i in range(N_EVENTS):
        while not proc.push(NOTE_ON, i % 128, i * 0.5, -float(i)):
            full += 1
    consumer.join(timeout=60)
    stop[0] = 1
    assert result == [0], f"{result} torn events"
    assert np.all(seen == 1), f"lost {np.sum(seen == 0)}, duplicated {np.sum(seen > 1)}"
    assert proc.events_dropped == full  # a full ring refuses (and counts) instead of overwriting
    assert EVENT_RING < N_EVENTS


def test_keys_and_swaps_hammered_while_the_callback_runs():
    """Other threads strike keys and swap engine, settings and master while the callback runs on its own
    thread: every note is played once, nothing is muted or raises, the output stays finite."""
    eng = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(q=0.99, channels=2), "iir")
    proc = eng.processor
    proc.running = True  # the writers now wait for the callback as with a device
    out = np.zeros((128, 2), dtype=np.float32)
    stop = threading.Event()
    blocks = [0]
    bad = []

    def callback_thread():
        while not stop.is_set():
            eng.callback(out, 128, None, None)
            if not np.all(np.isfinite(out)):
                bad.append(blocks[0])
            blocks[0] += 1

    def swapper():
        settings = [SynthSettings(q=0.99, channels=2), SynthSettings(q=0.995, drive=0.3, channels=2),
                    SynthSettings(q=0.99, rate=16000.0, channels=2)]
        i = 0
        while not stop.is_set():
            eng.set_settings(settings[i % 3])
            eng.set_engine(("iir", "rnn-analytic", "ab")[i % 3])
            eng.set_master(0.5 + 0.5 * (i % 2))
            i += 1
        blocks.append(i)

    threads = [threading.Thread(target=callback_thread), threading.Thread(target=swapper)]
    for t in threads:
        t.start()
    struck = 0
    deadline = time.perf_counter() + 3.0
    while time.perf_counter() < deadline:
        eng.note_on(48 + struck % 36, 0.5, when=0.0)
        struck += 1
        if struck % 64 == 0:
            time.sleep(0.001)
    time.sleep(0.2)  # the callback drains the ring
    stop.set()
    for t in threads:
        t.join(timeout=10)
    stats = eng.stats()
    assert blocks[0] > 100 and blocks[1] > 20, f"{blocks[0]} blocks, {blocks[1]} swaps"
    assert stats.notes == struck - proc.events_dropped, f"{stats.notes} of {struck} notes played"
    assert stats.callback_errors == 0 and stats.muted_blocks == 0 and not bad
