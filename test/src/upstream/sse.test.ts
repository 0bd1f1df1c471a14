import { describe, expect, test } from '@jest/globals';
import { SseParser, type SseEvent } from '../../../src/upstream/sse.js';

const parse = (chunks: string[], maxBytes?: number): SseEvent[] => {
  const events: SseEvent[] = [];
  const p = new SseParser((e) => events.push(e), maxBytes);
  for (const c of chunks) p.push(c);
  return events;
};

describe('SseParser (the WHATWG event-stream format)', () => {
  test('named events, multi-line data, comments, retry and id', () => {
    expect(parse([': hello\n\nevent: heartbeat\ndata: .\nretry: 5000\n\nid: 7\ndata: a\ndata: b\n\n'])).toEqual([
      { event: 'heartbeat', data: '.', retry: 5000 },
      { event: 'message', data: 'a\nb', id: '7' },
    ]);
  });

  test('lines end in LF, CRLF or CR, and may be split anywhere across chunks (a CRLF too)', () => {
    const text = 'event: soundLocation\r\ndata: {"powerLevel":76}\r\n\r\nevent: deviceMetrics\rdata: {"backgroundNoise":20}\r\r';
    const whole = parse([text]);
    expect(whole).toEqual([
      { event: 'soundLocation', data: '{"powerLevel":76}' },
      { event: 'deviceMetrics', data: '{"backgroundNoise":20}' },
    ]);
    for (let cut = 1; cut < text.length; cut++) expect(parse([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    expect(parse(text.split(''))).toEqual(whole);
  });

  test('an event or a line larger than the bound is a broken stream, not a growing buffer', () => {
    expect(() => parse([`data: ${'x'.repeat(2000)}\n`], 1024)).toThrow(/larger than the limit/);
    expect(() => parse([`data: ${'x'.repeat(2000)}`], 1024)).toThrow(/larger than the limit/);
    const many = Array.from({ length: 50 }, () => `data: ${'y'.repeat(100)}\n`).join('');
    expect(() => parse([many], 1024)).toThrow(/larger than the limit/);
  });
});
