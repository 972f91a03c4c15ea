"""Load from an independent gRPC client (C-core, Debian's python3-grpcio) for bench/real-cluster.ts.

Like test/support/grpcio_client.py it needs no generated code: requests are protobuf bytes
prepared by the caller (hex, one per line in REQUESTS_FILE, used round-robin; an empty line is an empty request), so only the
transport is this client's own. CONCURRENCY threads share one channel (C-core multiplexes them
on one HTTP/2 connection, as a gateway would) and call METHOD back to back for SECONDS.
For the server stream WatchSandboxes one call is: open a stream, read WATCH_MESSAGES, cancel.

usage: load_client.py SOCKET METHOD unary|stream CONCURRENCY SECONDS REQUESTS_FILE [WATCH_MESSAGES]
Prints one JSON object: {"calls": n, "errors": {code: n}, "latencies_ms": [...], "seconds": s}.
"""
import json
import sys
import threading
import time

import grpc

SERVICE = "/openshell.compute.v1.ComputeDriver/"


def identity(b):
    return b


def main():
    socket, method, kind, concurrency, seconds, requests_file = sys.argv[1:7]
    watch_messages = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    with open(requests_file) as f:
        requests = [bytes.fromhex(line) for line in f.read().splitlines()]
    # grpcio refuses replies over 4 MiB by default (so does tonic, the gateway's stack); a
    # ListSandboxes of 10,000 is larger, and this client measures the server, not that limit.
    channel = grpc.insecure_channel("unix:" + socket, options=[("grpc.max_receive_message_length", -1)])
    grpc.channel_ready_future(channel).result(timeout=30)
    if kind == "unary":
        call = channel.unary_unary(SERVICE + method, request_serializer=identity, response_deserializer=identity)
    else:
        call = channel.unary_stream(SERVICE + method, request_serializer=identity, response_deserializer=identity)

    lock = threading.Lock()
    latencies, errors = [], {}
    deadline = time.monotonic() + float(seconds)

    def one(request):
        if kind == "unary":
            call(request, timeout=60)
            return
        stream = call(request, timeout=60)
        received = 0
        for _ in stream:
            received += 1
            if received >= watch_messages:
                stream.cancel()
                return
        raise RuntimeError(f"stream ended after {received} of {watch_messages} messages")

    def worker(offset):
        i = offset
        while time.monotonic() < deadline:
            request = requests[i % len(requests)]
            i += int(concurrency)
            started = time.perf_counter()
            try:
                one(request)
            except grpc.RpcError as err:
                with lock:
                    name = err.code().name
                    errors[name] = errors.get(name, 0) + 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(int(concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    channel.close()
    print(json.dumps({"calls": len(latencies), "errors": errors, "latencies_ms": latencies, "seconds": elapsed}))


if __name__ == "__main__":
    main()
