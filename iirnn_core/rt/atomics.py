"""Low-level numba primitives for the compiled audio callback: arrays by address, atomics, a clock.

The callback is a numba ``@cfunc`` that PortAudio calls on its own thread without the GIL. It
reaches the engine's numpy arrays through a table of addresses and shapes (:func:`iirnn_core.rt.tables.table_row`,
:func:`f64_array1` ...), and it shares a few int64 words with Python threads through
acquire/release atomics:

- :func:`store_release` publishes: every store the thread made before it (a ring slot, a patch
  table half, a whole pipeline's arrays) is visible to a thread that reads the word with
  :func:`load_acquire` and sees the new value. numba compiles them to LLVM ``store atomic ...
  release`` / ``load atomic ... acquire`` (aligned 8-byte words): a plain ``mov`` on x86-64,
  whose stores are not reordered with older stores nor loads with older loads (TSO), while the
  ordering also stops the compiler from moving memory accesses across them; ``stlr`` / ``ldar``
  on ARM64, where plain accesses could be reordered by the CPU. Python-side producers publish
  through compiled entry points that use the same primitives (``push`` and ``publish`` of
  :mod:`iirnn_core.rt.library`), never through plain numpy stores.
- :func:`monotonic_seconds` is ``clock_gettime(CLOCK_MONOTONIC)``: ``time.perf_counter()``'s
  clock on Linux, so key events stamped in Python and blocks timed in the callback agree.

Linux only: the clock id is Linux's and ``gettid`` is a Linux call (importing this module elsewhere
raises ImportError with one line; the entry points stop before, :func:`iirnn_core.errors.unsupported_platform`).

Nothing here allocates or takes the GIL; everything compiles into cached machine code.
"""

from __future__ import annotations

import sys

from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from iirnn_core.rt.tables import TABLE_WIDTH

if not sys.platform.startswith("linux"):  # (the rt package imports nothing from outside itself)
    raise ImportError(f"the compiled audio code runs on Linux only (its clock id, gettid); this is {sys.platform!r}")


def _pointer_at(name: str, numba_type, ir_type):
    """An intrinsic ``name(addr)``: the int64 address ``addr`` as a pointer to ``numba_type`` (``ir_type``)."""

    def pointer(typingctx, addr):
        sig = types.CPointer(numba_type)(types.int64)

        def codegen(context, builder, sig, args):
            return builder.inttoptr(args[0], ir.PointerType(ir_type))

        return sig, codegen

    pointer.__name__ = pointer.__qualname__ = name
    return intrinsic(pointer)


_f64_ptr = _pointer_at("_f64_ptr", types.float64, ir.DoubleType())
_i64_ptr = _pointer_at("_i64_ptr", types.int64, ir.IntType(64))
_f32_ptr_at = _pointer_at("_f32_ptr_at", types.float32, ir.FloatType())


@intrinsic
def _f32_ptr(typingctx, addr):
    sig = types.CPointer(types.float32)(types.voidptr)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.PointerType(ir.FloatType()))

    return sig, codegen


@intrinsic
def _void_to_int(typingctx, ptr):
    sig = types.int64(types.voidptr)

    def codegen(context, builder, sig, args):
        return builder.ptrtoint(args[0], ir.IntType(64))

    return sig, codegen


@njit(inline="always")
def address_of(ptr):
    """A ``void*`` as an int64 address."""
    return _void_to_int(ptr)


@njit(inline="always")
def f32_frames(ptr, frames, channels):
    """The float32 (frames, channels) array at ``ptr`` (PortAudio's interleaved output buffer)."""
    return carray(_f32_ptr(ptr), (frames, channels))


@njit(inline="always")
def f64_time_info(address):
    """PortAudio's ``PaStreamCallbackTimeInfo`` at ``address``: seconds (inputBufferAdcTime, currentTime,
    outputBufferDacTime)."""
    return carray(_f64_ptr(address), (3,))


@njit(inline="always")
def table_at(address, rows):
    """The int64 array table (rows, TABLE_WIDTH) at ``address``."""
    return carray(_i64_ptr(address), (rows, TABLE_WIDTH))


@njit(inline="always")
def f64_array1(tab, row):
    """Row ``row`` of an array table as a 1-D float64 array."""
    return carray(_f64_ptr(tab[row, 0]), (tab[row, 1],))


@njit(inline="always")
def f64_array2(tab, row):
    """Row ``row`` of an array table as a 2-D float64 array."""
    return carray(_f64_ptr(tab[row, 0]), (tab[row, 1], tab[row, 2]))


@njit(inline="always")
def f64_array3(tab, row):
    """Row ``row`` of an array table as a 3-D float64 array."""
    return carray(_f64_ptr(tab[row, 0]), (tab[row, 1], tab[row, 2], tab[row, 3]))


@njit(inline="always")
def f64_array4(tab, row):
    """Row ``row`` of an array table as a 4-D float64 array."""
    return carray(_f64_ptr(tab[row, 0]), (tab[row, 1], tab[row, 2], tab[row, 3], tab[row, 4]))


@njit(inline="always")
def f32_array2(tab, row):
    """Row ``row`` of an array table as a 2-D float32 array."""
    return carray(_f32_ptr_at(tab[row, 0]), (tab[row, 1], tab[row, 2]))


@njit(inline="always")
def i64_array1(tab, row):
    """Row ``row`` of an array table as a 1-D int64 array."""
    return carray(_i64_ptr(tab[row, 0]), (tab[row, 1],))


@njit(inline="always")
def i64_array2(tab, row):
    """Row ``row`` of an array table as a 2-D int64 array."""
    return carray(_i64_ptr(tab[row, 0]), (tab[row, 1], tab[row, 2]))


@njit(inline="always")
def i64_array3(tab, row):
    """Row ``row`` of an array table as a 3-D int64 array."""
    return carray(_i64_ptr(tab[row, 0]), (tab[row, 1], tab[row, 2], tab[row, 3]))


@intrinsic
def load_acquire(typingctx, arr, index):
    """``arr[index]`` (int64) read with acquire ordering."""
    sig = types.int64(arr, index)

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        return builder.load_atomic(ptr, ordering="acquire", align=8)

    return sig, codegen


@intrinsic
def store_release(typingctx, arr, index, value):
    """``arr[index] = value`` (int64) written with release ordering."""
    sig = types.void(arr, index, types.int64)

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(value, ptr, ordering="release", align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def monotonic_seconds(typingctx):
    """``clock_gettime(CLOCK_MONOTONIC)`` in seconds (``time.perf_counter()`` on Linux)."""
    sig = types.float64()

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        timespec = ir.LiteralStructType([i64, i64])
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(32), timespec.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, timespec)
        builder.call(fn, [ir.Constant(ir.IntType(32), 1), ts])  # CLOCK_MONOTONIC = 1
        sec = builder.sitofp(builder.load(cgutils.gep_inbounds(builder, ts, 0, 0)), ir.DoubleType())
        nsec = builder.sitofp(builder.load(cgutils.gep_inbounds(builder, ts, 0, 1)), ir.DoubleType())
        return builder.fadd(sec, builder.fmul(nsec, ir.Constant(ir.DoubleType(), 1e-9)))

    return sig, codegen


@intrinsic
def current_thread_id(typingctx):
    """The calling thread's kernel id (``gettid()``), for raising its scheduling priority from outside."""
    sig = types.int64()

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "gettid")
        return builder.sext(builder.call(fn, []), ir.IntType(64))

    return sig, codegen


@intrinsic
def call_get_buffer(typingctx, function, port, frames):
    """Call the C function at address ``function`` as ``void *f(void *port, uint32_t frames)`` (libjack's
    ``jack_port_get_buffer``) and return the pointer it gives as an int64 address. The address comes from the
    caller's table, so the compiled code names no library symbol and loads anywhere."""
    sig = types.int64(types.int64, types.int64, types.uint32)

    def codegen(context, builder, sig, args):
        void_p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(void_p, [void_p, ir.IntType(32)])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        result = builder.call(fn, [builder.inttoptr(args[1], void_p), args[2]])
        return builder.ptrtoint(result, ir.IntType(64))

    return sig, codegen


@intrinsic
def call_frame_time(typingctx, function, client):
    """Call the C function at address ``function`` as ``uint32_t f(void *client)`` (libjack's
    ``jack_last_frame_time``: the frame counter of the graph's clock at the cycle's start) and return it as an
    int64 (0 .. 2**32 - 1)."""
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, sig, args):
        void_p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.IntType(32), [void_p])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.zext(builder.call(fn, [builder.inttoptr(args[1], void_p)]), ir.IntType(64))

    return sig, codegen
