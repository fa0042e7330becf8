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
    proc.drive()  # the writers now wait for the callback as with a device
    out = np.zeros((128, 2), dtype=np.float32)
    stop = threading.Event()
    blocks = [0]
    bad = []

    stop_callback = threading.Event()  # the callback runs until the writers are done (they wait for it)

    def callback_thread():
        while not stop_callback.is_set():
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
    threads[1].join(timeout=10)
    stop_callback.set()
    threads[0].join(timeout=10)
    stats = eng.stats()
    assert blocks[0] > 100 and blocks[1] > 20, f"{blocks[0]} blocks, {blocks[1]} swaps"
    assert stats.notes == struck - proc.events_dropped, f"{stats.notes} of {struck} notes played"
    assert stats.callback_errors == 0 and stats.muted_blocks == 0 and not bad


def test_a_callback_that_stalls_for_3_s_frees_tears_and_loses_nothing():
    """A device that stops calling back for 3 s while a new model rate, engine and master are set, twice: the
    writer that must wait (the first change is not yet acknowledged, and the slot it needs still holds the
    pipeline the stalled callback was rendering) waits for the callback instead of rewriting or freeing what it
    may hold; every key struck during the stall plays once it resumes; the last change is the one in use."""
    import gc
    import weakref

    from iirnn_core.synth.block_processor import H_PIPE, S_PUB, S_SEEN

    eng = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(q=0.9999, channels=2), "iir")
    proc = eng.processor
    out = np.zeros((128, 2), dtype=np.float32)
    stall, stop = threading.Event(), threading.Event()
    resumed: list[float] = []
    bad: list[int] = []

    def device():
        while not stop.is_set():
            if stall.is_set():
                time.sleep(3.0)
                resumed.append(time.perf_counter())
                stall.clear()
            eng.callback(out, 128, None, None)
            if not np.all(np.isfinite(out)):
                bad.append(proc.callbacks)
            time.sleep(0.001)

    thread = threading.Thread(target=device)
    proc.drive()
    thread.start()
    try:
        eng.note_on(69, when=0.0)  # A4 rings for seconds in the first pipeline (8 kHz)
        time.sleep(0.1)
        first = weakref.ref(eng.pipeline)
        stall.set()
        time.sleep(0.1)
        stalled_at = time.perf_counter()
        eng.configure(engine="rnn-analytic", settings=SynthSettings(q=0.995, rate=16000.0, channels=2), master=0.5)
        assert not resumed and time.perf_counter() - stalled_at < 1.0  # the idle half was free: no wait
        alive_during_stall = []
        watcher = threading.Thread(target=lambda: [alive_during_stall.append(first() is not None)
                                                   or time.sleep(0.05) for _ in range(40)])
        watcher.start()
        for k in range(12):
            eng.note_on(60 + k, when=0.0)
        eng.configure(engine="ab", settings=SynthSettings(q=0.99, rate=12000.0, channels=2), master=0.7)
        done_at = time.perf_counter()
        watcher.join()
        gc.collect()
        assert resumed and done_at >= resumed[0], "the second change did not wait for the stalled callback"
        assert all(alive_during_stall), "the pipeline the stalled callback held was freed"
        assert first() is None  # replaced after the callback faded it: freed then, not before
        time.sleep(0.2)
        word = int(proc.sync[S_PUB])
        assert proc.sync[S_SEEN] == word
        slot = int(proc.half_i[word & 1, H_PIPE])
        assert proc.pipelines[slot].model_rate == 12000.0 and eng.master == 0.7
        stats = eng.stats()
        assert stats.notes == 13 and stats.callback_errors == 0 and stats.muted_blocks == 0 and not bad
        assert proc.handoff_timeouts == 0
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_writer_that_times_out_changes_nothing_and_says_so(caplog):
    """A callback that never answers again: publish gives up after its timeout with OutputNotAnswering, logged and
    counted, and neither the unacknowledged half nor the pipeline slots were touched."""
    from iirnn_core.synth.block_processor import S_PUB, OutputNotAnswering

    eng = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(q=0.99, channels=2), "iir")
    proc = eng.processor
    out = np.zeros((128, 2), dtype=np.float32)
    proc.drive()
    eng.callback(out, 128, None, None)  # the callback reads the first patches, then never runs again
    eng.set_master(0.5)  # published into the idle half; not acknowledged
    word, pipelines = int(proc.sync[S_PUB]), list(proc.pipelines)
    halves = proc.half_f.copy(), proc.p_bank.copy(), proc.p_w_hh.copy()
    pipeline = eng.pipeline
    started = time.perf_counter()
    try:
        proc.publish(pipeline, None, 0.1, 0.25, 0.0, timeout=0.3)
    except OutputNotAnswering as exc:
        assert "did not answer within 0.3 s" in str(exc)
    else:
        raise AssertionError("publish went on without an acknowledgement")
    assert 0.3 <= time.perf_counter() - started < 2.0
    assert int(proc.sync[S_PUB]) == word and proc.pipelines == pipelines
    assert all(np.array_equal(a, b) for a, b in zip(halves, (proc.half_f, proc.p_bank, proc.p_w_hh)))
    assert proc.handoff_timeouts == 1 and "did not answer" in caplog.text
    proc.stop_driving()  # the output was closed: no callback can run, the writer goes on at once
    proc.publish(pipeline, None, 0.1, 0.25, 0.0, timeout=0.3)
    assert int(proc.sync[S_PUB]) != word
