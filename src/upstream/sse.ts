import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/** One server-sent event (the WHATWG event-stream format). */
export interface SseEvent {
  /** `message` when the event names none. */
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/**
 * Reads an event stream chunk by chunk: lines end in LF, CRLF or CR; `data` lines join with LF;
 * a blank line dispatches; lines starting with `:` are comments. An event larger than `maxBytes`
 * is a broken stream (a device does not send megabytes of JSON per event): the reader fails
 * rather than buffer without end.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private dataBytes = 0;
  private event = '';
  private id?: string;
  private retry?: number;
  private skipLf = false;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly maxBytes = 256 * 1024,
  ) {}

  /** Feeds the next chunk; throws once an event or a line passes `maxBytes`. */
  push(chunk: string): void {
    // A CR that ended the last chunk was a line end; an LF right after it belongs to it.
    if (this.skipLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.skipLf = false;
    this.buffer += chunk;
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', start);
      const lf = this.buffer.indexOf('\n', start);
      let end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) break;
      const line = this.buffer.slice(start, end);
      if (this.buffer[end] === '\r') {
        if (end + 1 === this.buffer.length) this.skipLf = true;
        else if (this.buffer[end + 1] === '\n') end++;
      }
      start = end + 1;
      this.line(line);
    }
    this.buffer = this.buffer.slice(start);
    if (this.buffer.length > this.maxBytes) throw new Error('an event-stream line is larger than the limit');
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.dataBytes += value.length + 1;
      if (this.dataBytes > this.maxBytes) throw new Error('an event is larger than the limit');
      this.data.push(value);
    } else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\u0000')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }

  private dispatch(): void {
    if (this.data.length > 0 || this.event) {
      this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}), ...(this.retry !== undefined ? { retry: this.retry } : {}) });
    }
    this.data = [];
    this.dataBytes = 0;
    this.event = '';
    // `id` is the stream's last event id and stays; `retry` was said once, with this event.
    this.retry = undefined;
  }
}

/** What an upstream event stream tells its owner. */
export interface StreamListener {
  /** The answer's status and headers; anything but 200 ends the stream after `onEnd`. */
  onOpen(status: number, headers: IncomingHttpHeaders): void;
  onEvent(event: SseEvent): void;
  /** The stream ended: the vendor closed it, it broke, went quiet too long, or was closed. */
  onEnd(error?: Error): void;
}

/**
 * undici dispatch handler for a long-lived event stream: events are parsed as they arrive, a
 * stream that says nothing for `idleMs` is cut (the vendor went away without closing), and a
 * non-200 answer's body is read whole (bounded) for the owner to judge.
 */
export class SseHandler implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private parser?: SseParser;
  private status = 0;
  private idle?: NodeJS.Timeout;
  private ended = false;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly listener: StreamListener,
    private readonly idleMs: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.ended) controller.abort(new Error('closed before it was sent'));
    else this.controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.listener.onOpen(statusCode, headers);
    if (statusCode === 200) this.parser = new SseParser((e) => this.listener.onEvent(e));
    this.touch();
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.touch();
    if (!this.parser) return;
    try {
      this.parser.push(this.decoder.decode(chunk, { stream: true }));
    } catch (error) {
      this.close(error as Error);
    }
  }

  onResponseEnd(): void {
    this.finish(this.status === 200 ? new Error('the vendor ended the stream') : undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish(error);
  }

  /** Ends the stream from our side (the last subscriber left, or it went quiet). */
  close(reason: Error = new Error('closed')): void {
    if (this.ended) return;
    if (this.controller) this.controller.abort(reason);
    else this.finish(reason);
  }

  private touch(): void {
    if (this.idleMs <= 0 || this.ended) return;
    if (this.idle) this.idle.refresh();
    else this.idle = setTimeout(() => this.close(Object.assign(new Error('the stream went quiet'), { code: 'SB_STREAM_IDLE' })), this.idleMs);
  }

  private finish(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (this.idle) clearTimeout(this.idle);
    this.controller = undefined;
    this.listener.onEnd(error);
  }
}
