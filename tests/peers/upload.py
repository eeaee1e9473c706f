"""Python `websockets` uploading large messages, for websocket-protocol's
`recv_stream` tests (tests/interop_stream_recv.rs).

    python3 upload.py ws://127.0.0.1:PORT [--deflate]

Sends, waiting for the server's verdict after each ("<kind> <bytes> ok"): an
8 MiB binary message in 64 KiB fragments, an 8 MiB binary message in one
frame, and a 4 MiB text message in fragments of 1000 characters (multibyte
code points included). Prints one JSON object per line, as peer.py does.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect

MIB = 1 << 20
UNIT = "héllo wörld €𝄞 "


def report(**fields):
    print(json.dumps(fields), flush=True)


def binary_of(n):
    return (bytes(range(251)) * (n // 251 + 1))[:n]


def text_of(n):
    return UNIT * (n // len(UNIT.encode()) + 1)


async def main(url, deflate):
    async with connect(url, max_size=None, compression="deflate" if deflate else None) as ws:
        if deflate:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            report(step="deflate", ok=ext.startswith("permessage-deflate"), detail=ext)
        data = binary_of(8 * MIB)
        cases = [
            ("fragmented-binary", "binary", [data[i:i + 64 * 1024] for i in range(0, len(data), 64 * 1024)], len(data)),
            ("single-frame-binary", "binary", data, len(data)),
        ]
        text = text_of(4 * MIB)
        cases.append(("fragmented-text", "text", [text[i:i + 1000] for i in range(0, len(text), 1000)], len(text.encode())))
        for name, kind, payload, size in cases:
            await ws.send(payload)
            verdict = await ws.recv()
            report(step=name, ok=verdict == f"{kind} {size} ok", detail=verdict)
        await ws.close(1000, "done")
    report(done=True)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], "--deflate" in sys.argv))
    except Exception as e:  # reported, so the test shows it
        report(error=repr(e))
        sys.exit(1)
