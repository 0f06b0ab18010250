#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS: a TCP relay on
127.0.0.1 that delivers every byte, both ways, DELAY_MS after it came in
(a one-way delay; the round trip gains twice that), in order. For the
benchmarks: devices that are far away, without netem (this machine's
kernel has no sch_netem). Prints "ready" once it listens.

It costs CPU on the machine under test (asyncio, about as much per
login as mpsd itself), and it hands bytes on in bursts, at the timer's
ticks: closer to a busy network than to an even one. Compare builds or
settings with it in the same run, not with figures taken without it.
"""
import asyncio
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS")
    lport, tport = int(sys.argv[1]), int(sys.argv[2])
    delay = int(sys.argv[3]) / 1000.0

    def later(fn, *args):
        # Bytes and the end of a stream keep their order: call_later with
        # one delay runs in the order it was called.
        asyncio.get_running_loop().call_later(delay, fn, *args)

    def write(writer, data):
        if not writer.is_closing():
            writer.write(data)

    def finish(writer):
        if writer.is_closing():
            return
        try:
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        except OSError:
            writer.close()

    async def pump(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                later(write, writer, data)
        except OSError:
            pass
        later(finish, writer)

    async def handle(r1, w1):
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", tport)
        except OSError:
            w1.close()
            return
        await asyncio.gather(pump(r1, w2), pump(r2, w1))
        # Both directions ended: close once the last delayed write went.
        await asyncio.sleep(delay + 0.1)
        w1.close()
        w2.close()

    async def serve():
        srv = await asyncio.start_server(handle, "127.0.0.1", lport,
                                         backlog=4096)
        print("ready", flush=True)
        async with srv:
            await srv.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
