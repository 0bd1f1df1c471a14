/**
 * Test-only OTLP decoding, dependency-free.
 *  - decodeTraceRequestProto(): minimal protobuf reader for
 *    opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest, emitting the same
 *    shape as OTLP/JSON (hex ids, camelCase, AnyValue as {stringValue|intValue|...}).
 *  - flattenSpans(): turns either decoded body into a flat list that tests can assert on.
 */

export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string | number }
  | { doubleValue: number }
  | { bytesValue: string }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } };
export interface KeyValue { key: string; value: AnyValue }
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  traceState?: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: KeyValue[];
  events?: { timeUnixNano: string | number; name: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
  flags?: number;
}
export interface ExportTraceServiceRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
  }[];
}

// ---- minimal protobuf wire reader -------------------------------------------------------------
class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly end = buf.length) {}
  done(): boolean { return this.pos >= this.end; }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  tag(): [field: number, wire: number] {
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  sub(): Reader { const len = Number(this.varint()); const r = new Reader(this.buf, this.pos + len); r.pos = this.pos; this.pos += len; return r; }
  fixed64(): bigint { const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 8).readBigUInt64LE(); this.pos += 8; return v; }
  fixed32(): number { const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 4).readUInt32LE(); this.pos += 4; return v; }
  double(): number { const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 8).readDoubleLE(); this.pos += 8; return v; }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}
const utf8 = new TextDecoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const str = (r: Reader): string => utf8.decode(r.bytes());

function readAnyValue(r: Reader): AnyValue {
  let v: AnyValue = { stringValue: '' };
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === 1) v = { stringValue: str(r) };
    else if (f === 2) v = { boolValue: r.varint() !== 0n };
    else if (f === 3) v = { intValue: BigInt.asIntN(64, r.varint()).toString() }; // int64, two's complement
    else if (f === 4) v = { doubleValue: r.double() };
    else if (f === 5) { const a = r.sub(); const values: AnyValue[] = []; while (!a.done()) { const [af, aw] = a.tag(); if (af === 1) values.push(readAnyValue(a.sub())); else a.skip(aw); } v = { arrayValue: { values } }; }
    else if (f === 6) { const a = r.sub(); const values: KeyValue[] = []; while (!a.done()) { const [af, aw] = a.tag(); if (af === 1) values.push(readKeyValue(a.sub())); else a.skip(aw); } v = { kvlistValue: { values } }; }
    else if (f === 7) v = { bytesValue: Buffer.from(r.bytes()).toString('base64') };
    else r.skip(w);
  }
  return v;
}
function readKeyValue(r: Reader): KeyValue {
  const kv: KeyValue = { key: '', value: { stringValue: '' } };
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === 1) kv.key = str(r);
    else if (f === 2) kv.value = readAnyValue(r.sub());
    else r.skip(w);
  }
  return kv;
}
function readSpan(r: Reader): OtlpSpan {
  const s: OtlpSpan = { traceId: '', spanId: '', name: '', startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [], events: [] };
  while (!r.done()) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: s.traceId = hex(r.bytes()); break;
      case 2: s.spanId = hex(r.bytes()); break;
      case 3: s.traceState = str(r); break;
      case 4: s.parentSpanId = hex(r.bytes()); break;
      case 5: s.name = str(r); break;
      case 6: s.kind = Number(r.varint()); break;
      case 7: s.startTimeUnixNano = r.fixed64().toString(); break;
      case 8: s.endTimeUnixNano = r.fixed64().toString(); break;
      case 9: s.attributes!.push(readKeyValue(r.sub())); break;
      case 11: {
        const e = r.sub();
        const ev = { timeUnixNano: '0', name: '', attributes: [] as KeyValue[] };
        while (!e.done()) { const [ef, ew] = e.tag(); if (ef === 1) ev.timeUnixNano = e.fixed64().toString(); else if (ef === 2) ev.name = str(e); else if (ef === 3) ev.attributes.push(readKeyValue(e.sub())); else e.skip(ew); }
        s.events!.push(ev);
        break;
      }
      case 15: {
        const st = r.sub(); s.status = {};
        while (!st.done()) { const [sf, sw] = st.tag(); if (sf === 2) s.status.message = str(st); else if (sf === 3) s.status.code = Number(st.varint()); else st.skip(sw); }
        break;
      }
      case 16: s.flags = r.fixed32(); break;
      default: r.skip(w);
    }
  }
  return s;
}

export function decodeTraceRequestProto(body: Uint8Array): ExportTraceServiceRequest {
  const r = new Reader(body);
  const out: Required<ExportTraceServiceRequest> = { resourceSpans: [] };
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f !== 1) { r.skip(w); continue; }
    const rs = r.sub();
    const resourceSpans: NonNullable<ExportTraceServiceRequest['resourceSpans']>[number] = { resource: { attributes: [] }, scopeSpans: [] };
    while (!rs.done()) {
      const [rf, rw] = rs.tag();
      if (rf === 1) { const res = rs.sub(); while (!res.done()) { const [xf, xw] = res.tag(); if (xf === 1) resourceSpans.resource!.attributes!.push(readKeyValue(res.sub())); else res.skip(xw); } }
      else if (rf === 2) {
        const ss = rs.sub();
        const scopeSpans: { scope: { name?: string; version?: string }; spans: OtlpSpan[] } = { scope: {}, spans: [] };
        while (!ss.done()) {
          const [sf, sw] = ss.tag();
          if (sf === 1) { const sc = ss.sub(); while (!sc.done()) { const [cf, cw] = sc.tag(); if (cf === 1) scopeSpans.scope.name = str(sc); else if (cf === 2) scopeSpans.scope.version = str(sc); else sc.skip(cw); } }
          else if (sf === 2) scopeSpans.spans.push(readSpan(ss.sub()));
          else ss.skip(sw);
        }
        resourceSpans.scopeSpans!.push(scopeSpans);
      } else rs.skip(rw);
    }
    out.resourceSpans.push(resourceSpans);
  }
  return out;
}

// ---- shape-agnostic flattening ----------------------------------------------------------------
export type Plain = string | number | boolean | Plain[] | { [k: string]: Plain };
export function plainValue(v: AnyValue): Plain {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue); // JSON encodes int64 as number here; proto decode gives string
  if ('doubleValue' in v) return v.doubleValue;
  if ('bytesValue' in v) return v.bytesValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(plainValue);
  return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, plainValue(kv.value)]));
}
export const plainAttrs = (kvs: KeyValue[] | undefined): Record<string, Plain> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plainValue(kv.value)]));

export interface FlatSpan {
  traceId: string; spanId: string; parentSpanId: string | undefined; name: string; kind: number | undefined;
  attributes: Record<string, Plain>; resource: Record<string, Plain>; scope: string | undefined;
  status: { code?: number; message?: string } | undefined; events: string[]; durationNs: bigint;
}
export function flattenSpans(req: ExportTraceServiceRequest): FlatSpan[] {
  const out: FlatSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = plainAttrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId, spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined, // JSON may carry "" / omit; proto omits when root
          name: s.name, kind: s.kind, attributes: plainAttrs(s.attributes), resource, scope: ss.scope?.name,
          status: s.status, events: (s.events ?? []).map((e) => e.name),
          durationNs: BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano),
        });
      }
    }
  }
  return out;
}
