//! A tonic (hyper h2) gRPC client for the contract tests, connecting over a Unix socket exactly
//! like the OpenShell gateway does. Messages travel as hex-encoded protobuf bytes through a
//! pass-through codec, so no protobuf codegen is needed: this exercises only the transport
//! (HTTP/2 framing, trailers, cancellation) as a strict peer sees it.
//!
//! usage: tonic-probe SOCKET METHOD unary REQUEST_HEX
//!        tonic-probe SOCKET METHOD stream REQUEST_HEX MAX_MESSAGES [UNTIL_HEX]
//! A stream is read until MAX_MESSAGES messages arrived or one contains the bytes UNTIL_HEX.
//! Prints one JSON object: {"code": "OK"|..., "details": str, "responses": [hex, ...], "error": str}
//! where "code" uses grpcio's UPPER_SNAKE names and "error" is tonic's full status (debug form)
//! when the call failed. Exits 0 whenever it could print a result.

use std::time::Duration;

use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tower::service_fn;

const SERVICE: &str = "/openshell.compute.v1.ComputeDriver/";
/// Client-side guards so a server that never finishes a call shows up as a result, not a hang.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
const PING_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes in, bytes out: the gRPC length-prefixed framing is tonic's, the payload is ours.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// tonic's `Code::NotFound` → grpcio's `NOT_FOUND`.
fn code_name(code: Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err("odd-length hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

fn path(method: &str) -> PathAndQuery {
    PathAndQuery::try_from(format!("{SERVICE}{method}")).expect("valid gRPC path")
}

fn timed_out(what: &str, after: Duration) -> Status {
    Status::deadline_exceeded(format!("tonic-probe: {what} got no complete reply within {after:?} (client-side timeout)"))
}

async fn unary(channel: Channel, method: &str, request: Vec<u8>, limit: Duration) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    let call = async {
        grpc.ready().await.map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
        grpc.unary(Request::new(request), path(method), RawCodec).await
    };
    match tokio::time::timeout(limit, call).await {
        Ok(reply) => Ok(reply?.into_inner()),
        Err(_) => Err(timed_out(method, limit)),
    }
}

/// Reads up to `limit` messages (or up to the first containing `until`), then drops the stream
/// (RST_STREAM CANCEL on the wire).
async fn stream(channel: Channel, method: &str, request: Vec<u8>, limit: usize, until: &[u8], out: &mut Vec<String>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    let call = async {
        grpc.ready().await.map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
        let mut messages = grpc.server_streaming(Request::new(request), path(method), RawCodec).await?.into_inner();
        while out.len() < limit {
            match messages.message().await? {
                Some(m) => {
                    out.push(hex(&m));
                    if !until.is_empty() && m.windows(until.len()).any(|w| w == until) {
                        break;
                    }
                }
                None => break,
            }
        }
        drop(messages);
        Ok(())
    };
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(method, CALL_TIMEOUT)),
    }
}

async fn run(args: &[String], responses: &mut Vec<String>) -> Result<(), Status> {
    let socket = args[1].clone();
    let method = args[2].as_str();
    let request = unhex(&args[4]).map_err(|e| Status::invalid_argument(format!("tonic-probe: bad REQUEST_HEX: {e}")))?;

    // Exactly how the gateway reaches a driver on a Unix socket.
    let channel = Endpoint::from_static("http://[::]:50051")
        .connect_with_connector(service_fn(move |_| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await
        .map_err(|e| Status::unavailable(format!("tonic-probe: connect failed: {e:?}")))?;

    match args[3].as_str() {
        "unary" => responses.push(hex(&unary(channel, method, request, CALL_TIMEOUT).await?)),
        "stream" => {
            let limit: usize = args
                .get(5)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Status::invalid_argument("tonic-probe: stream needs MAX_MESSAGES"))?;
            let until = match args.get(6) {
                Some(h) => unhex(h).map_err(|e| Status::invalid_argument(format!("tonic-probe: bad UNTIL_HEX: {e}")))?,
                None => Vec::new(),
            };
            stream(channel.clone(), method, request, limit, &until, responses).await?;
            // The same channel (same HTTP/2 connection) must stay usable after a cancelled stream.
            responses.push(hex(&unary(channel, "GetCapabilities", Vec::new(), PING_TIMEOUT).await?));
        }
        other => return Err(Status::invalid_argument(format!("tonic-probe: unknown call kind {other:?}"))),
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: tonic-probe SOCKET METHOD unary|stream REQUEST_HEX [MAX_MESSAGES [UNTIL_HEX]]");
        std::process::exit(2);
    }
    // Responses gathered before a failure are kept, like the python client's.
    let mut responses = Vec::new();
    let (code, details, error) = match run(&args, &mut responses).await {
        Ok(()) => ("OK".to_string(), String::new(), String::new()),
        Err(s) => (code_name(s.code()), s.message().to_string(), format!("{s:?}")),
    };
    let json = serde_json::json!({ "code": code, "details": details, "responses": responses, "error": error });
    println!("{json}");
}
