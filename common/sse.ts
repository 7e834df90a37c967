import type { ServerResponse } from 'node:http';

/** Starts a Server-Sent Events response. */
export function openSse(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': ringcast\n\n');
}

/** One event as SSE text (JSON has no raw line breaks, so `data` is one line). */
export function formatSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Writes one event; false when the socket is not draining (as `write` says). */
export function writeSse(res: ServerResponse, event: string, data: unknown): boolean {
  return res.write(formatSse(event, data));
}

/** Incremental SSE parser: feed it text, it calls back with (event, data) for each complete event. */
export class SseParser {
  private buffer = '';
  constructor(private readonly onEvent: (event: string, data: string) => void) {}

  push(text: string): void {
    this.buffer += text;
    let idx = this.buffer.indexOf('\n\n');
    while (idx >= 0) {
      const block = this.buffer.slice(0, idx);
      this.buffer = this.buffer.slice(idx + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) this.onEvent(event, data.join('\n'));
      idx = this.buffer.indexOf('\n\n');
    }
  }
}
