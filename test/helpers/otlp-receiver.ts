/** Tiny in-process OTLP/HTTP trace receiver for tests (127.0.0.1, ephemeral port). */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeTraceRequestProto, flattenSpans, type ExportTraceServiceRequest, type FlatSpan } from './otlp-decode.js';

export interface ReceivedExport { path: string; contentType: string; headers: IncomingHttpHeaders; body: ExportTraceServiceRequest }
export interface OtlpReceiver {
  url: string; // e.g. http://127.0.0.1:43123  (use as OTEL_EXPORTER_OTLP_ENDPOINT)
  exports: ReceivedExport[];
  spans(): FlatSpan[];
  waitForSpans(n: number, timeoutMs?: number): Promise<FlatSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  let notify: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const contentType = String(req.headers['content-type'] ?? '');
      const body: ExportTraceServiceRequest = contentType.includes('json')
        ? (JSON.parse(raw.toString('utf8')) as ExportTraceServiceRequest)
        : decodeTraceRequestProto(raw);
      exports.push({ path: req.url ?? '', contentType, headers: req.headers, body });
      // An empty 200 is a valid (full-success) ExportTraceServiceResponse for both encodings.
      res.writeHead(200, { 'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' });
      res.end(contentType.includes('json') ? '{}' : undefined);
      notify?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const spans = () => exports.flatMap((e) => flattenSpans(e.body));
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    spans,
    async waitForSpans(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (spans().length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} spans, have ${spans().length}`);
        await new Promise<void>((r) => { notify = r; setTimeout(r, 50); });
      }
      return spans();
    },
    close: () => new Promise((resolve, reject) => {
      server.closeAllConnections(); // exporter uses keep-alive agent
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}
