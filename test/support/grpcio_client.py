"""An independent gRPC client (C-core) for the contract tests: Debian's python3-grpcio, or a pinned
grpcio from a client-matrix venv (scripts/client-matrix.sh), whichever python runs it. The channel
is `unix:SOCKET` with grpcio's default options, as a new user would open it.

Request and response messages travel as hex-encoded protobuf bytes, so this client needs no
generated code: it exercises only the transport (HTTP/2 over a Unix socket, framing, trailers).

usage: grpcio_client.py SOCKET METHOD unary REQUEST_HEX
       grpcio_client.py SOCKET METHOD stream REQUEST_HEX MAX_MESSAGES [UNTIL_HEX]
A stream is read until MAX_MESSAGES messages arrived or one contains the bytes UNTIL_HEX, then
cancelled. Prints one JSON object:
{"code": "OK"|..., "details": str, "responses": [hex, ...], "version": grpcio's version}.
"""
import json
import sys

import grpc

SERVICE = "/openshell.compute.v1.ComputeDriver/"


def identity(b):
    return b


def main():
    socket, method, kind, request_hex = sys.argv[1:5]
    request = bytes.fromhex(request_hex)
    channel = grpc.insecure_channel("unix:" + socket)
    responses = []
    code, details = "OK", ""
    try:
        if kind == "unary":
            call = channel.unary_unary(SERVICE + method, request_serializer=identity, response_deserializer=identity)
            responses.append(call(request, timeout=120).hex())
        else:
            limit = int(sys.argv[5])
            until = bytes.fromhex(sys.argv[6]) if len(sys.argv) > 6 else b""
            call = channel.unary_stream(SERVICE + method, request_serializer=identity, response_deserializer=identity)
            stream = call(request, timeout=120)
            for message in stream:
                responses.append(message.hex())
                if len(responses) >= limit or (until and until in message):
                    stream.cancel()
                    break
            # The channel must stay usable after a cancelled stream.
            ping = channel.unary_unary(SERVICE + "GetCapabilities", request_serializer=identity, response_deserializer=identity)
            responses.append(ping(b"", timeout=30).hex())
    except grpc.RpcError as err:
        code, details = err.code().name, err.details() or ""
    finally:
        channel.close()
    print(json.dumps({"code": code, "details": details, "responses": responses, "version": grpc.__version__}))


if __name__ == "__main__":
    main()
