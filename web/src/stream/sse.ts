// An incremental parser for `text/event-stream` (the WHATWG "event stream interpretation").
// Chunks may split anywhere — inside a field name, between `\r` and `\n`, or in the middle of
// an event; only complete events (ended by a blank line) are returned, so an event cut off by a
// dropped connection is never half-applied and a resume from `lastEventId` replays it whole.

export interface SseEvent {
  /** The last event id seen at dispatch (ids persist until changed, per the spec). */
  id: string | undefined;
  /** `event:` field, `message` when absent. */
  event: string;
  data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private eventType = '';
  private skipLeadingLf = false;
  private started = false;
  /** The last event id buffer: what a reconnect sends as `Last-Event-ID`. */
  lastEventId: string | undefined;
  /** A server-sent `retry:` in milliseconds. */
  retryMs: number | undefined;
  /** Comment lines seen (`: ping` keep-alives). */
  comments = 0;

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId;
  }

  /** Feeds decoded text; returns the events completed by it, in order. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLeadingLf && text.length > 0) {
      // A `\r` ended the previous chunk; a `\n` opening this one belongs to the same line break.
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      this.skipLeadingLf = false;
    }
    const events: SseEvent[] = [];
    const buffer = this.buffer + text;
    let start = 0;
    for (;;) {
      const lf = buffer.indexOf('\n', start);
      const cr = buffer.indexOf('\r', start);
      let end: number;
      if (lf === -1 && cr === -1) break;
      else if (lf === -1) end = cr;
      else if (cr === -1) end = lf;
      else end = Math.min(lf, cr);
      this.line(buffer.slice(start, end), events);
      if (buffer.charCodeAt(end) === 13) {
        if (end + 1 < buffer.length) {
          start = buffer.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
        } else {
          this.skipLeadingLf = true;
          start = end + 1;
        }
      } else {
        start = end + 1;
      }
    }
    this.buffer = buffer.slice(start);
    return events;
  }

  /** The stream ended: an unterminated event is discarded, as the spec says. */
  finish(): void {
    this.buffer = '';
    this.data = [];
    this.eventType = '';
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) {
      this.comments += 1;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length === 0) {
      this.eventType = '';
      return;
    }
    events.push({ id: this.lastEventId, event: this.eventType || 'message', data: this.data.join('\n') });
    this.data = [];
    this.eventType = '';
  }
}
