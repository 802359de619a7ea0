#!/usr/bin/env python3
"""bench/conns.py: many concurrent HTTP/1.1 clients for bench/run.

  conns.py idle HOST PORT N AUTH READYFILE HOLD_S
      open N keep-alive connections, send one small chat completion on
      each, read the answer, then hold them all idle; writes READYFILE
      when all N are idle, holds HOLD_S seconds, exits.
  conns.py slow HOST PORT N AUTH READYFILE CHUNKS DELAY_MS
      N concurrent SSE streams of CHUNKS deltas DELAY_MS apart; writes
      READYFILE once every stream has its first delta; at the end prints
      "SLOW ok=N failed=N gap_p50_ms=X gap_p99_ms=X gap_mean_ms=X".
"""
import asyncio, os, sys, time

def body(stream, chunks, delay):
    b = ('{"model":"gpt-4o-mini","messages":[{"role":"user","content":'
         '"Say hello in five words."}],"max_tokens":16')
    if stream:
        b += ',"stream":true,"stream_options":{"include_usage":true}'
    b += ',"mock":{"chunks":%d,"delay_ms":%d}}' % (chunks, delay)
    return b.encode()

def request(host, port, auth, b):
    return (("POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\n"
             "Authorization: %s\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n") % (host, port, auth, len(b))
            ).encode() + b

async def read_answer(r):
    head = await r.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    if n:
        await r.readexactly(n)
    return head

async def idle(host, port, n, auth, ready, hold):
    req = request(host, port, auth, body(False, 3, 0))
    sem = asyncio.Semaphore(256)
    conns, fails = [], 0
    async def one():
        nonlocal fails
        async with sem:
            try:
                r, w = await asyncio.open_connection(host, port)
                w.write(req)
                head = await read_answer(r)
                if b" 200 " not in head.split(b"\r\n")[0]:
                    fails += 1
                conns.append((r, w))
            except Exception:
                fails += 1
    await asyncio.gather(*[one() for _ in range(n)])
    with open(ready, "w") as f:
        f.write("%d %d\n" % (len(conns), fails))
    await asyncio.sleep(hold)

async def slow(host, port, n, auth, ready, chunks, delay):
    req = request(host, port, auth, body(True, chunks, delay))
    gaps, okn, fails, started = [], 0, 0, 0
    all_started = asyncio.Event()
    sem = asyncio.Semaphore(256)
    async def one():
        nonlocal okn, fails, started
        first = True
        try:
            async with sem:
                r, w = await asyncio.open_connection(host, port)
                w.write(req)
            last = None
            buf = b""
            while True:
                d = await r.read(65536)
                if not d:
                    break
                now = time.monotonic()
                k = d.count(b'"content":"tok')
                if k:
                    if first:
                        first = False
                        started += 1
                        if started == n:
                            all_started.set()
                    elif last is not None:
                        gaps.append((now - last) * 1000.0)
                        gaps.extend([0.0] * (k - 1))
                    last = now
                buf = (buf + d)[-64:]
                if b"[DONE]" in buf or buf.endswith(b"\r\n0\r\n\r\n"):
                    break
            w.close()
            okn += 1
        except Exception:
            fails += 1
        if first:
            started += 1
            if started == n:
                all_started.set()
    async def mark():
        await all_started.wait()
        with open(ready, "w") as f:
            f.write("%d\n" % n)
    m = asyncio.ensure_future(mark())
    await asyncio.gather(*[one() for _ in range(n)])
    m.cancel()
    gaps.sort()
    g = lambda p: gaps[min(len(gaps) - 1, int(p * len(gaps)))] if gaps else 0
    mean = sum(gaps) / len(gaps) if gaps else 0
    print("SLOW ok=%d failed=%d gap_p50_ms=%.2f gap_p99_ms=%.2f gap_mean_ms=%.2f"
          % (okn, fails, g(0.50), g(0.99), mean))

def main():
    mode, host, port, n, auth, ready = sys.argv[1:7]
    port, n = int(port), int(n)
    if mode == "idle":
        asyncio.run(idle(host, port, n, auth, ready, float(sys.argv[7])))
    else:
        asyncio.run(slow(host, port, n, auth, ready, int(sys.argv[7]),
                         int(sys.argv[8])))

if __name__ == "__main__":
    main()
