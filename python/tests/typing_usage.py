"""Not a test module: scripts/test-python-wheel.sh type-checks this file with mypy
against the installed wheel (its py.typed), to keep the public API's types honest:
every input kind ``process`` accepts, and the error classes usable in ``except``."""
from __future__ import annotations

import io
from pathlib import Path

import conveyor


def use(pool: conveyor.Pool) -> int:
    recipe = {"outputs": [{"name": "o", "width": 10, "format": "png"}]}
    try:
        r = pool.process(Path("x.jpg"), recipe)
        pool.process("x.jpg", '{"outputs": []}')
        pool.process(b"...")
        pool.process(bytearray(b"..."))
        pool.process(memoryview(b"..."))
        pool.process(io.BytesIO(b"..."))
        keyed = pool.process(b"...", recipe, key="user-7/avatar", timeout=2.5)
        key: str | None = keyed.key
        pool.submit(b"...", key=key, timeout=1, block=False)
        with open("x.jpg", "rb") as f:
            pool.submit(f).result()
        return r.input_width + r.output("o").width
    except conveyor.DecodeFailed as e:
        code: str = e.code
        stage: str | None = e.stage
        return len(code) + len(stage or "")
    except conveyor.ConveyorError as e:
        raise conveyor.InvalidArgument("bad", stage="decode") from e
