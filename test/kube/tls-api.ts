// A tiny HTTPS "API server" for transport tests. Bun's node:https hands the request handler a
// socket without getPeerCertificate(), so TLS is terminated by node:tls (whose sockets have it)
// and each connection is passed to a node:http server.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import type { Pki } from "./pki";

export interface SeenRequest {
  method: string;
  path: string;
  clientCN: string | undefined;
  authorization: string | undefined;
}

export interface TlsApi {
  url: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startTlsApi(
  pki: Pki,
  opts: { requireClientCert: boolean; bearerToken?: () => string; port?: number },
): Promise<TlsApi> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<TLSSocket>();
  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const sock = req.socket as TLSSocket;
    const cn = sock.getPeerCertificate?.()?.subject?.CN;
    const path = (req.url ?? "").split("?")[0] ?? "";
    seen.push({ method: req.method ?? "", path, clientCN: typeof cn === "string" ? cn : undefined, authorization: req.headers.authorization });
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (opts.bearerToken && req.headers.authorization !== `Bearer ${opts.bearerToken()}`) {
      return json(401, { kind: "Status", apiVersion: "v1", status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 });
    }
    if (path === "/version") return json(200, { gitVersion: "v1.35.0-test", clientCN: cn ?? null });
    if (path === "/api/v1/namespaces/x/pods") {
      return json(200, { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: "7" }, items: [], clientCN: cn ?? null });
    }
    json(404, { kind: "Status", apiVersion: "v1", status: "Failure", message: `the server could not find the requested resource`, reason: "NotFound", code: 404 });
  });
  const tls = createTlsServer(
    {
      key: pki.serverKey,
      cert: pki.serverCert,
      ca: pki.ca,
      requestCert: opts.requireClientCert,
      rejectUnauthorized: opts.requireClientCert,
    },
    (sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      http.emit("connection", sock);
    },
  );
  await new Promise<void>((resolve) => tls.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (tls.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tls.close(() => resolve());
      }),
  };
}
