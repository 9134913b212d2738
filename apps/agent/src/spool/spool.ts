import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the uploader is: the first byte not yet acknowledged by the API. */
export interface SpoolPosition {
  readonly segment: number;
  readonly offset: number;
}

export interface SpoolBatch {
  /**
   * Complete JSON lines without their newline: views into the spool's read buffer, never
   * copied or decoded. The next read() reuses that buffer: use the lines before calling it.
   */
  readonly lines: readonly Buffer[];
  /** Where the spool continues after these lines (what ack() is given). */
  readonly end: SpoolPosition;
  readonly bytes: number;
  /** The batch stopped at its event or byte bound, so more is waiting: the uploader goes on at once. */
  readonly full: boolean;
}

export interface SpoolOptions {
  readonly dir: string;
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly segmentBytes: number;
}

const SEGMENT = /^segment-(\d{12})\.ndjson$/;
const CURSOR = 'cursor.json';
const segmentName = (n: number) => `segment-${String(n).padStart(12, '0')}.ndjson`;
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The bounded on-disk admission-event spool: append-only segments of JSON lines and a
 * cursor file. An event is written to the active segment before its admission is
 * answered, so a killed process loses nothing already answered (the kernel holds the
 * bytes; surviving a power loss would need an fsync per admission, which is not made).
 * The cursor only moves after the API acknowledged a batch (temp file, rename), so a crash in
 * between uploads the batch again: delivery is at least once, and the API deduplicates
 * by event id. Beyond the bound new events are dropped and counted.
 */
export class Spool {
  private fd = -1;
  private activeSegment = 0;
  private activeSize = 0;
  private cursor: SpoolPosition = { segment: 0, offset: 0 };
  private pendingEvents = 0;
  private pendingBytes = 0;
  private droppedEvents = 0;
  private wake: (() => void) | null = null;
  private queue: Array<{ readonly line: string; readonly bytes: number; readonly done: (ok: boolean) => void }> = [];
  private flushing: Promise<void> | null = null;
  private closing = false;
  /** Reused by every read(): see readLines. */
  private readBuffer: Buffer | null = null;

  constructor(private readonly options: SpoolOptions) {}

  /** Recovers the spool left by a previous run and starts a fresh active segment. */
  open(): { recoveredEvents: number; truncatedBytes: number } {
    const { dir } = this.options;
    fs.mkdirSync(dir, { recursive: true });
    const segments = this.segments();
    this.cursor = this.readCursor(segments);
    let truncatedBytes = 0;
    for (const seg of segments) {
      const file = path.join(dir, segmentName(seg));
      if (seg < this.cursor.segment) {
        fs.rmSync(file, { force: true });
        continue;
      }
      const { lines, bytes, tail } = countLines(file, seg === this.cursor.segment ? this.cursor.offset : 0);
      // a line without its newline was never acknowledged to the API server: cut it
      if (tail > 0) {
        fs.truncateSync(file, fs.statSync(file).size - tail);
        truncatedBytes += tail;
      }
      this.pendingEvents += lines;
      this.pendingBytes += bytes;
    }
    this.activeSegment = (segments.length ? segments[segments.length - 1]! : this.cursor.segment) + 1;
    if (segments.length === 0) this.cursor = { segment: this.activeSegment, offset: 0 };
    this.openActive();
    return { recoveredEvents: this.pendingEvents, truncatedBytes };
  }

  /** Waits for appends in flight, then closes the active segment. */
  async close(): Promise<void> {
    this.closing = true;
    while (this.flushing) await this.flushing;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.wake?.();
  }

  get depth(): number {
    return this.pendingEvents;
  }

  get dropped(): number {
    return this.droppedEvents;
  }

  /** Counts an event lost before it reached the spool (e.g. refused by the API as invalid). */
  countDropped(n: number): void {
    this.droppedEvents += n;
  }

  /** Called after each append: the uploader waits on it. */
  onAppend(wake: (() => void) | null): void {
    this.wake = wake;
  }

  /**
   * Appends one event (its JSON, one line); resolves true once it is written, false when
   * the spool is full (or the disk failed) and it was dropped. Appends made in one turn of
   * the event loop are written together by one write(2) right after it (group commit, in
   * setImmediate). The write is synchronous: a page-cache write of a few KB costs less than
   * handing it to the thread pool (measured ~25 µs against ~45 µs of CPU per 5 KB, and no
   * wait for a pool thread behind the uploader's gzip), and the answers wait for it anyway.
   */
  append(json: string): Promise<boolean> {
    const line = `${json}\n`;
    const bytes = Buffer.byteLength(line);
    if (
      this.fd < 0 ||
      this.closing ||
      this.pendingEvents >= this.options.maxEvents ||
      this.pendingBytes + bytes > this.options.maxBytes
    ) {
      this.droppedEvents++;
      return Promise.resolve(false);
    }
    this.pendingEvents++;
    this.pendingBytes += bytes - 1;
    return new Promise((resolve) => {
      this.queue.push({ line, bytes, done: resolve });
      if (!this.flushing) this.flushing = new Promise((flushed) => setImmediate(() => flushed(this.flush())));
    });
  }

  private flush(): void {
    const group = this.queue;
    this.queue = [];
    this.flushing = null;
    const size = group.reduce((n, e) => n + e.bytes, 0);
    let ok = true;
    try {
      if (this.activeSize > 0 && this.activeSize + size > this.options.segmentBytes) this.rotate();
      let text = '';
      for (const e of group) text += e.line;
      const buffer = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < buffer.length) written += fs.writeSync(this.fd, buffer, written, buffer.length - written);
      this.activeSize += size;
    } catch {
      ok = false;
      // a partly written group would glue its last line to the next one: cut it off
      try {
        fs.ftruncateSync(this.fd, this.activeSize);
      } catch {
        // the disk is failing; open() cuts an unterminated tail at the next start
      }
      this.pendingEvents -= group.length;
      this.pendingBytes -= size - group.length;
      this.droppedEvents += group.length;
    }
    for (const e of group) e.done(ok);
    if (ok) this.wake?.();
  }

  /** Up to `maxEvents` complete lines from the cursor (and roughly `maxBytes`), within one segment. */
  async read(maxEvents: number, maxBytes: number): Promise<SpoolBatch> {
    for (;;) {
      const { segment, offset } = this.cursor;
      const file = path.join(this.options.dir, segmentName(segment));
      const batch = await readLines(
        file,
        segment,
        offset,
        maxEvents,
        maxBytes,
        this.readBuffer,
        (b) => (this.readBuffer = b),
      );
      // a later segment exists: more is waiting even when this one ran out
      if (batch.lines.length > 0 || batch.end.offset !== offset)
        return segment < this.activeSegment ? { ...batch, full: true } : batch;
      // nothing left here: move on when a later segment exists
      if (segment >= this.activeSegment) return batch;
      this.cursor = { segment: segment + 1, offset: 0 };
      await this.writeCursor();
      await fs.promises.rm(file, { force: true });
    }
  }

  /** The API took everything before `end`. Off the event loop's critical path: file system calls are asynchronous. */
  async ack(batch: SpoolBatch): Promise<void> {
    const previous = this.cursor.segment;
    this.cursor = batch.end;
    this.pendingEvents = Math.max(0, this.pendingEvents - batch.lines.length);
    this.pendingBytes = Math.max(0, this.pendingBytes - batch.bytes);
    await this.writeCursor();
    for (let s = previous; s < this.cursor.segment; s++)
      await fs.promises.rm(path.join(this.options.dir, segmentName(s)), { force: true });
  }

  private segments(): number[] {
    return fs
      .readdirSync(this.options.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  private readCursor(segments: readonly number[]): SpoolPosition {
    const first = segments[0] ?? 0;
    try {
      const c = JSON.parse(fs.readFileSync(path.join(this.options.dir, CURSOR), 'utf8')) as Partial<SpoolPosition>;
      if (Number.isInteger(c.segment) && Number.isInteger(c.offset) && c.offset! >= 0) {
        return c.segment! < first ? { segment: first, offset: 0 } : { segment: c.segment!, offset: c.offset! };
      }
    } catch {
      // no cursor yet (or unreadable): start at the oldest segment, re-uploading is harmless
    }
    return { segment: first, offset: 0 };
  }

  private async writeCursor(): Promise<void> {
    const file = path.join(this.options.dir, CURSOR);
    const tmp = `${file}.tmp`;
    // no fsync: rename is atomic for a crashed process, and a cursor that a power loss
    // sets back only uploads a batch again, which the API deduplicates; an fsync here
    // would stall admissions on a slow disk
    await fs.promises.writeFile(tmp, JSON.stringify(this.cursor), { mode: 0o600 });
    await fs.promises.rename(tmp, file);
  }

  private openActive(): void {
    this.fd = fs.openSync(path.join(this.options.dir, segmentName(this.activeSegment)), 'a', 0o600);
    this.activeSize = 0;
  }

  private rotate(): void {
    const next = fs.openSync(path.join(this.options.dir, segmentName(this.activeSegment + 1)), 'a', 0o600);
    const previous = this.fd;
    // the new segment exists before the reader may move past the old one
    this.fd = next;
    this.activeSegment++;
    this.activeSize = 0;
    fs.closeSync(previous);
  }
}

/** Complete lines after `offset` and the byte count of a trailing line without newline. */
function countLines(file: string, offset: number): { lines: number; bytes: number; tail: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = offset;
    let lines = 0;
    let lastNewline = offset - 1;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      for (let i = buf.indexOf(10, 0); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) {
        lines++;
        lastNewline = pos + i;
      }
      pos += n;
    }
    return { lines, bytes: lastNewline + 1 - offset - lines, tail: pos - (lastNewline + 1) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads into `reusable` when it is large enough, else into a new buffer handed to `keep`
 * (kept unless it grew for one oversized line): a fresh megabyte per upload is external
 * memory, which V8 answers with full garbage collections.
 */
async function readLines(
  file: string,
  segment: number,
  offset: number,
  maxEvents: number,
  maxBytes: number,
  reusable: Buffer | null,
  keep: (b: Buffer) => void,
): Promise<SpoolBatch> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { lines: [], end: { segment, offset }, bytes: 0, full: false };
    throw err;
  }
  try {
    const usual = Math.max(64 * 1024, maxBytes);
    let window = usual;
    for (;;) {
      let buf: Buffer;
      if (reusable && reusable.length >= window) buf = reusable;
      else {
        buf = Buffer.allocUnsafe(window);
        if (window === usual) keep(buf);
      }
      const { bytesRead } = await handle.read(buf, 0, window, offset);
      const lines: Buffer[] = [];
      let start = 0;
      let bytes = 0;
      let bounded = false;
      for (
        let i = buf.indexOf(10, 0);
        i >= 0 && i < bytesRead && lines.length < maxEvents;
        i = buf.indexOf(10, start)
      ) {
        if (lines.length > 0 && bytes + (i - start) > maxBytes) {
          bounded = true;
          break;
        }
        lines.push(buf.subarray(start, i));
        bytes += i - start;
        start = i + 1;
      }
      // one line longer than the window: read a larger window, up to a line no event can reach
      if (lines.length === 0 && bytesRead === window && window < MAX_LINE_BYTES) {
        window *= 4;
        continue;
      }
      const full = bounded || lines.length >= maxEvents || (bytesRead === window && start < bytesRead);
      return { lines, end: { segment, offset: offset + start }, bytes, full };
    }
  } finally {
    await handle.close();
  }
}
