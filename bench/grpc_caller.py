"""Unary calls on the driver's socket from a C-core gRPC client (Debian's python3-grpcio), for
bench/write-latency.ts: the gateway calls the driver from a compiled client (tonic), so the
driver's side of a write is timed from one too, not from the bench's own Connect client, whose
overhead (~1.5 ms a call on this machine, against ~0.6 ms here) is the client's, not the driver's.

Like load_client.py it needs no generated code: requests and replies stay protobuf bytes.
One channel (one HTTP/2 connection, as a gateway has) and up to 64 calls in flight.

usage: grpc_caller.py SOCKET
stdin:  one call a line, "SEQ METHOD REQUEST_HEX" (an empty request is "SEQ METHOD -")
stdout: one line a finished call, "SEQ CODE MS": grpcio's code name and the call's own time in
        milliseconds, measured around the call in this process.
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

SERVICE = "/openshell.compute.v1.ComputeDriver/"
# A stop waits for the controller to delete the pod; on a loaded machine that takes minutes.
CALL_TIMEOUT_S = 300


def identity(b):
    return b


def main():
    channel = grpc.insecure_channel("unix:" + sys.argv[1])
    grpc.channel_ready_future(channel).result(timeout=30)
    methods = {}
    out = threading.Lock()

    def reply(seq, code, ms):
        with out:
            sys.stdout.write(f"{seq} {code} {ms:.3f}\n")
            sys.stdout.flush()

    def one(seq, method, request):
        call = methods.get(method)
        if call is None:
            call = methods.setdefault(method, channel.unary_unary(SERVICE + method, request_serializer=identity, response_deserializer=identity))
        started = time.perf_counter()
        try:
            call(request, timeout=CALL_TIMEOUT_S)
            code = "OK"
        except grpc.RpcError as err:
            code = err.code().name
        reply(seq, code, (time.perf_counter() - started) * 1000)

    with ThreadPoolExecutor(max_workers=64) as pool:
        for line in sys.stdin:
            seq, method, request = line.split()
            pool.submit(one, seq, method, b"" if request == "-" else bytes.fromhex(request))
    channel.close()


if __name__ == "__main__":
    main()
