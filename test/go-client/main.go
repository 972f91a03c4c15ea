// go-client: a grpc-go client for the contract tests' client matrix. It dials the driver's Unix
// socket as `unix:PATH` with grpc-go's default channel options, and moves messages as raw
// protobuf bytes (hex on the command line), so it needs no generated code: it exercises
// grpc-go's transport (its HTTP/2, framing, trailers, cancellation) as a Go gateway would.
//
// usage: go-client SOCKET METHOD unary REQUEST_HEX
//        go-client SOCKET METHOD stream REQUEST_HEX MAX_MESSAGES [UNTIL_HEX]
//
// A stream is read until MAX_MESSAGES messages arrived or one contains the bytes UNTIL_HEX, then
// cancelled; one GetCapabilities reply on the same channel is appended. Prints one JSON object:
// {"code": "OK"|..., "details": str, "responses": [hex, ...], "version": grpc-go's version}.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

const service = "/openshell.compute.v1.ComputeDriver/"

// Client-side guards so a server that never finishes a call shows up as a result, not a hang.
const (
	callTimeout = 120 * time.Second
	pingTimeout = 30 * time.Second
)

// rawCodec replaces the registered "proto" codec, so calls keep grpc-go's default content-type
// (application/grpc) while the payload stays the bytes the test encoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("go-client: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("go-client: cannot unmarshal into %T", v)
	}
	*b = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

type result struct {
	Code      string   `json:"code"`
	Details   string   `json:"details"`
	Responses []string `json:"responses"`
	Version   string   `json:"version"`
}

// codeName turns grpc-go's NotFound into grpcio's NOT_FOUND, the names the tests compare.
func codeName(c codes.Code) string {
	var out strings.Builder
	for i, r := range c.String() {
		if r >= 'A' && r <= 'Z' && i > 0 {
			out.WriteByte('_')
		}
		out.WriteString(strings.ToUpper(string(r)))
	}
	return out.String()
}

func unary(conn *grpc.ClientConn, method string, request []byte, limit time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var reply []byte
	err := conn.Invoke(ctx, service+method, &request, &reply)
	return reply, err
}

var streamDesc = grpc.StreamDesc{ServerStreams: true}

func stream(conn *grpc.ClientConn, method string, request []byte, limit int, until []byte, out *[]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	// Cancelling the context resets the stream (RST_STREAM CANCEL on the wire).
	defer cancel()
	s, err := conn.NewStream(ctx, &streamDesc, service+method)
	if err != nil {
		return err
	}
	if err := s.SendMsg(&request); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	for len(*out) < limit {
		var msg []byte
		if err := s.RecvMsg(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		*out = append(*out, hex.EncodeToString(msg))
		if len(until) > 0 && bytes.Contains(msg, until) {
			return nil
		}
	}
	return nil
}

func run(args []string, out *[]string) error {
	socket, method, kind := args[1], args[2], args[3]
	request, err := hex.DecodeString(args[4])
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "go-client: bad REQUEST_HEX: %v", err)
	}
	conn, err := grpc.NewClient("unix:"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return status.Errorf(codes.Unavailable, "go-client: %v", err)
	}
	defer conn.Close()
	switch kind {
	case "unary":
		reply, err := unary(conn, method, request, callTimeout)
		if err != nil {
			return err
		}
		*out = append(*out, hex.EncodeToString(reply))
	case "stream":
		if len(args) < 6 {
			return status.Error(codes.InvalidArgument, "go-client: stream needs MAX_MESSAGES")
		}
		limit, err := strconv.Atoi(args[5])
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "go-client: bad MAX_MESSAGES: %v", err)
		}
		var until []byte
		if len(args) > 6 {
			if until, err = hex.DecodeString(args[6]); err != nil {
				return status.Errorf(codes.InvalidArgument, "go-client: bad UNTIL_HEX: %v", err)
			}
		}
		if err := stream(conn, method, request, limit, until, out); err != nil {
			return err
		}
		// The same channel must stay usable after a cancelled stream.
		reply, err := unary(conn, "GetCapabilities", nil, pingTimeout)
		if err != nil {
			return err
		}
		*out = append(*out, hex.EncodeToString(reply))
	default:
		return status.Errorf(codes.InvalidArgument, "go-client: unknown call kind %q", kind)
	}
	return nil
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: go-client SOCKET METHOD unary|stream REQUEST_HEX [MAX_MESSAGES [UNTIL_HEX]]")
		os.Exit(2)
	}
	encoding.RegisterCodec(rawCodec{})
	// Responses gathered before a failure are kept, like the python client's.
	res := result{Code: "OK", Responses: []string{}, Version: grpc.Version}
	if err := run(os.Args, &res.Responses); err != nil {
		s := status.Convert(err)
		res.Code, res.Details = codeName(s.Code()), s.Message()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}
