"""MIDI: messages to synth actions, live input ports (mido with python-rtmidi), MIDI files.

Live input runs on rtmidi's own thread and only queues events into the engine (lock-free);
file rendering runs offline through the same renderer as the live audio.
"""
