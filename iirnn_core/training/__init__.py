"""Training the network: config, kernels, optimizers, the run loop, the trainer's child process.

Training runs in a child process (:mod:`.worker`) or in ``iirnn train``, never in the audio
process, and this package is the only place torch is imported (lazily). The window imports only
:mod:`.config` (plain data), :mod:`.worker` (starts and talks to the child) and :mod:`.export`'s numpy half
(which net a key exports; the child writes the file).
"""
