import { Duplex } from 'node:stream';
import type { Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';

/**
 * Vault's CLI sends the non-standard HTTP method LIST, which Node's HTTP parser rejects before
 * any handler runs. So connections are accepted here, and each request line `LIST /path` is
 * rewritten to `GET /path?list=true` (which Vault treats the same) before the HTTP server
 * parses it. Requests eos itself sends never need this; real Vault clients do.
 */
const LIST_LINE = /(^|\r\n)(LIST|SCAN) ([^ ?\r\n]*)(\?[^ \r\n]*)? HTTP\//g;

export function rewriteListRequests(chunk: Buffer): Buffer {
  const text = chunk.toString('latin1');
  if (!text.includes('LIST ') && !text.includes('SCAN ')) return chunk;
  // SCAN (OpenBao's recursive list) likewise becomes GET `?scan=true`, which OpenBao also takes.
  return Buffer.from(
    text.replace(LIST_LINE, (_m, start: string, method: string, path: string, query: string | undefined) => {
      const flag = method === 'LIST' ? 'list=true' : 'scan=true';
      return `${start}GET ${path}${query ? `${query}&${flag}` : `?${flag}`} HTTP/`;
    }),
    'latin1',
  );
}

/** A line end's tail that may still become `LIST <path> HTTP/…` when the next packet comes. */
const PARTIAL_LIST_LINE = /(?:^|\r\n)(L|LI|LIS|LIST(?: [^\r\n]*)?|S|SC|SCA|SCAN(?: [^\r\n]*)?)$/;

/**
 * Rewrites a stream of chunks: a request line split over two TCP packets (`LI` + `ST /v1/…`)
 * is held back until it is whole. What is held is flushed after a second anyway, so a body
 * that merely ends in `\r\nL` is never stuck.
 */
export function listRewriter(push: (chunk: Buffer) => void, flushAfterMs = 1000): { write(chunk: Buffer): void; end(): void } {
  let held: Buffer | null = null;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (held) push(rewriteListRequests(held));
    held = null;
  };
  return {
    write(chunk) {
      if (timer) clearTimeout(timer);
      timer = null;
      const data = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      const text = data.toString('latin1');
      const partial = PARTIAL_LIST_LINE.exec(text.slice(-2048));
      const keep = partial ? Buffer.byteLength(partial[1] as string, 'latin1') : 0;
      if (keep > 0) {
        push(rewriteListRequests(data.subarray(0, data.length - keep)));
        held = data.subarray(data.length - keep);
        timer = setTimeout(flush, flushAfterMs);
        timer.unref();
      } else push(rewriteListRequests(data));
    },
    end: flush,
  };
}

/**
 * A TCP server that hands every connection, LIST-rewritten, to the HTTP server; with `tls`, a
 * TLS server that does the same with each connection's decrypted stream (HTTPS).
 */
export function listAwareNetServer(http: Server, sockets: Set<Socket>, tls?: TlsOptions): NetServer {
  const accept = (socket: Socket) => {
    // Node's HTTP server sets no-delay on the sockets it accepts itself; this one must too, or
    // Nagle's algorithm and the client's delayed ACK add ~40 ms to every kept-alive request.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const stream = new Duplex({
      read() {
        socket.resume();
      },
      write(chunk, encoding, callback) {
        socket.write(chunk, encoding, callback);
      },
      final(callback) {
        socket.end(callback);
      },
      destroy(err, callback) {
        socket.destroy(err ?? undefined);
        callback(err);
      },
    });
    // What the HTTP server asks of a socket, delegated to the real one.
    Object.assign(stream, {
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      setTimeout: (ms: number, cb?: () => void) => (socket.setTimeout(ms, cb), stream),
      setNoDelay: (v?: boolean) => (socket.setNoDelay(v), stream),
      setKeepAlive: (e?: boolean, d?: number) => (socket.setKeepAlive(e, d), stream),
      ref: () => (socket.ref(), stream),
      unref: () => (socket.unref(), stream),
    });
    socket.on('timeout', () => stream.emit('timeout'));
    const rewriter = listRewriter((chunk) => {
      if (chunk.length > 0 && !stream.push(chunk)) socket.pause();
    });
    socket.on('data', (chunk: Buffer) => rewriter.write(chunk));
    socket.on('end', () => {
      rewriter.end();
      stream.push(null);
    });
    socket.on('error', (err) => stream.destroy(err));
    socket.on('close', () => stream.destroy());
    http.emit('connection', stream);
  };
  if (!tls) return createNetServer(accept);
  const server = createTlsServer(tls, accept);
  // Every TCP connection from its first byte, not only once its handshake is done: stop() must be
  // able to end one that stalls in the handshake, or closing would wait out Node's 120 s for it.
  server.on('connection', (raw: Socket) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
  });
  // A client that gives up during the handshake (a wrong CA, a port scan) is no error of ours.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}
